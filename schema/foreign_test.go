package schema

import "testing"

func TestIsForeignData(t *testing.T) {
	for _, tc := range []struct {
		name, file, src string
		want            bool
	}{
		{"yaml definitions", "vms/web.yaml", "vm:\n  web: {node: pve1}\n", false},
		{"yaml with comment first", "a.yml", "# web\n---\ncontainer:\n  dns: {}\n", false},
		{"ansible playbook", "render/ansible/playbook.yml", "- name: guests\n  hosts: localhost\n", true},
		{"ansible inventory", "render/ansible/inventory.yml", "all:\n  children: {}\n", true},
		{"ci workflow keys", "ci.yaml", "stages:\n  - plan\nplan:\n  script: pmpc plan\n", true},
		{"typo of a kind is loaded to be reported", "v.yaml", "vms:\n  web: {}\n", false},
		{"capitalised kind is loaded to be reported", "v.yaml", "VM:\n  web: {}\n", false},
		{"empty yaml", "e.yaml", "", false},
		{"saved plan json", "plan.json", `{"format_version":"1","changes":[]}`, true},
		{"json array", "list.json", `[1,2]`, true},
		{"json definitions", "p.json", `{"pool":{"prod":{}}}`, false},
		{"broken json is reported", "b.json", `{"vm":`, false},
		{"cue is never foreign", "x.cue", "anything: 1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isForeignData(tc.file, []byte(tc.src)); got != tc.want {
				t.Errorf("isForeignData(%s) = %v, want %v", tc.file, got, tc.want)
			}
		})
	}
}
