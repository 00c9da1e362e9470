package pve

import (
	"slices"
	"strings"

	"github.com/pmpc-dev/pmpc/resource"
)

// sensitiveMark stands in for a secret's value in a SubDiff.
const sensitiveMark = "(sensitive)"

func diff(kind resource.Kind, key, desired, observed string) []SubDiff {
	if ignored(kind, key) || desired == observed {
		return nil
	}
	if Sensitive(kind, key) {
		if (desired == "") == (observed == "") {
			return nil
		}
		return []SubDiff{{Before: mark(observed), After: mark(desired)}}
	}
	if key == "tags" {
		if slices.Equal(importTags(desired), importTags(observed)) {
			return nil
		}
		return whole(desired, observed)
	}
	if desired == "" || observed == "" {
		return whole(desired, observed)
	}
	if kind == resource.KindVM && key == "sshkeys" {
		d, err1 := DecodeSSHKeys(desired)
		o, err2 := DecodeSSHKeys(observed)
		if err1 == nil && err2 == nil && slices.Equal(trimAll(d), trimAll(o)) {
			return nil
		}
		return whole(desired, observed)
	}
	if f, ok := FormatOf(kind, key); ok && f != Generic {
		d, err1 := ParseProps(f, desired)
		o, err2 := ParseProps(f, observed)
		if err1 == nil && err2 == nil {
			ds := propsDiff(kind, key, f, d, o)
			if f == Memory && len(ds) == 1 && ds[0].SubKey == "current" {
				ds[0].SubKey = ""
			}
			return ds
		}
		return whole(desired, observed)
	}
	if valueEqual(scalarType(kind, key), desired, observed) {
		return nil
	}
	return whole(desired, observed)
}

func mark(v string) string {
	if v == "" {
		return ""
	}
	return sensitiveMark
}

func whole(desired, observed string) []SubDiff {
	return []SubDiff{{Before: observed, After: desired}}
}

func trimAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.Join(strings.Fields(s), " ")
	}
	return out
}

// observedOnlyIgnored lists sub-keys PVE adds by itself: when the desired
// value leaves one out, its observed value is not compared.
func observedOnlyIgnored(f Format, k string) bool {
	switch f {
	case QemuNet:
		return k == "macaddr"
	case LXCNet:
		return k == "hwaddr" || k == "type"
	case Drive, LXCMount:
		return k == "size"
	case EFIDisk:
		return k == "size" || k == "efitype" || k == "ms-cert"
	case TPMState:
		return k == "size" || k == "version"
	}
	return false
}

func propsDiff(kind resource.Kind, key string, f Format, d, o Props) []SubDiff {
	var out []SubDiff
	handled := map[string]bool{}
	add := func(sub, before, after string) {
		out = append(out, SubDiff{SubKey: sub, Before: before, After: after})
	}
	switch f {
	case Drive, EFIDisk, TPMState, LXCMount:
		def := f.DefaultKey()
		handled[def], handled["size"], handled["format"] = true, true, true
		dFile, oFile := d.Value(def), o.Value(def)
		if m := reCloudInitAlloc.FindStringSubmatch(dFile); m != nil {
			// A cloud-init drive is its storage; PVE names the volume and
			// adds media=cdrom.
			if os := volumeStorage(oFile); os != m[1] {
				add("storage", os, m[1])
			}
			if !reCloudInitVol.MatchString(oFile) {
				add(def, oFile, dFile)
			}
			return out
		}
		sizeMatters := f == Drive || f == LXCMount
		if storage, bytes, ok := parseAlloc(dFile); ok {
			if os := volumeStorage(oFile); storage != "" && os != storage {
				add("storage", os, storage)
			}
			if _, oAllocBytes, oAlloc := parseAlloc(oFile); oAlloc && sizeMatters && oAllocBytes != bytes {
				add("size", FormatSize(oAllocBytes), FormatSize(bytes))
			} else if have, known := propSize(o); known && sizeMatters && have != bytes {
				add("size", o.Value("size"), FormatSize(bytes))
			}
		} else {
			if dFile != oFile {
				add(def, oFile, dFile)
			}
			if ds, set := d.Get("size"); set && sizeMatters {
				if !valueEqual(tSize, ds, o.Value("size")) {
					add("size", o.Value("size"), ds)
				}
			}
		}
		if df, set := d.Get("format"); set {
			of := cmpOr(o.Value("format"), volumeFormat(oFile))
			if of != "" && of != df {
				add("format", of, df)
			}
		}
		if f == Drive {
			handled["media"] = true
			dm, om := cmpOr(d.Value("media"), "disk"), cmpOr(o.Value("media"), "disk")
			if dm != om {
				add("media", o.Value("media"), d.Value("media"))
			}
		}
	case QemuNet:
		handled["macaddr"] = true
		if dm, set := d.Get("macaddr"); set && !strings.EqualFold(dm, o.Value("macaddr")) {
			add("macaddr", o.Value("macaddr"), dm)
		}
	case LXCNet:
		handled["hwaddr"] = true
		if dm, set := d.Get("hwaddr"); set && !strings.EqualFold(dm, o.Value("hwaddr")) {
			add("hwaddr", o.Value("hwaddr"), dm)
		}
	case Features:
		handled["mount"] = true
		dm, om := strings.Split(d.Value("mount"), ";"), strings.Split(o.Value("mount"), ";")
		slices.Sort(dm)
		slices.Sort(om)
		if !slices.Equal(slices.Compact(dm), slices.Compact(om)) {
			add("mount", o.Value("mount"), d.Value("mount"))
		}
	}
	sp := f.spec()
	union := append(d.Keys(), o.Keys()...)
	slices.Sort(union)
	for _, k := range slices.Compact(union) {
		if handled[k] {
			continue
		}
		dv, dset := d.Get(k)
		ov, oset := o.Get(k)
		if !dset && observedOnlyIgnored(f, k) {
			continue
		}
		if dset && oset && valueEqual(sp.keys[k], dv, ov) {
			continue
		}
		add(k, ov, dv)
	}
	return out
}

// propSize returns the size sub-key of p in bytes.
func propSize(p Props) (int64, bool) {
	s, set := p.Get("size")
	if !set {
		return 0, false
	}
	b, err := ParseSize(s)
	return b, err == nil
}

func isSizedDisk(kind resource.Kind, key string) (Format, bool) {
	f, ok := FormatOf(kind, key)
	if !ok || strings.HasPrefix(key, "unused") {
		return f, false
	}
	return f, f == Drive || f == LXCMount
}

func diskSizeChange(kind resource.Kind, key, desired, observed string) (want, have int64, ok bool) {
	f, sized := isSizedDisk(kind, key)
	if !sized {
		return 0, 0, false
	}
	if d, err := ParseProps(f, desired); err == nil {
		if _, b, alloc := parseAlloc(d.Value(f.DefaultKey())); alloc {
			want = b
		} else if b, known := propSize(d); known {
			want = b
		}
	}
	if o, err := ParseProps(f, observed); err == nil {
		if _, b, alloc := parseAlloc(o.Value(f.DefaultKey())); alloc {
			have = b
		} else if b, known := propSize(o); known {
			have = b
		}
	}
	return want, have, want > 0 && have > 0
}

func updateValue(kind resource.Kind, key, desired, observed string) string {
	if desired == "" || observed == "" {
		return desired
	}
	f, ok := FormatOf(kind, key)
	if !ok || strings.HasPrefix(key, "unused") {
		return desired
	}
	d, err1 := ParseProps(f, desired)
	o, err2 := ParseProps(f, observed)
	if err1 != nil || err2 != nil {
		return desired
	}
	switch f {
	case Drive, EFIDisk, TPMState, LXCMount:
		def := f.DefaultKey()
		dFile, oFile := d.Value(def), o.Value(def)
		if m := reCloudInitAlloc.FindStringSubmatch(dFile); m != nil {
			if volumeStorage(oFile) == m[1] && reCloudInitVol.MatchString(oFile) {
				return observed
			}
			return desired
		}
		storage, want, alloc := parseAlloc(dFile)
		if !alloc || (storage != "" && storage != volumeStorage(oFile)) {
			// An existing volume, or a new allocation elsewhere: PVE
			// detaches the old volume to unusedN.
			return desired
		}
		d.Set(def, oFile)
		d.Del("format")
		// The size the config records is the one the disk has once the
		// planned resize (see DiskSizeChange) grew it: on a running guest
		// this value may stay pending, and PVE's resize updates only the
		// current config, so a pending value with the old size would undo
		// the resize in the config the next GET merges.
		size := o.Value("size")
		if have, known := propSize(o); (f == Drive || f == LXCMount) && known && want > have {
			size = FormatSize(want)
		}
		d.Set("size", size)
		if _, set := d.Get("media"); !set && f == Drive {
			d.Set("media", o.Value("media"))
		}
		return d.String()
	case QemuNet:
		if _, set := d.Get("macaddr"); !set {
			d.Set("macaddr", o.Value("macaddr"))
		}
		return d.String()
	case LXCNet:
		if _, set := d.Get("hwaddr"); !set {
			d.Set("hwaddr", o.Value("hwaddr"))
		}
		if _, set := d.Get("type"); !set {
			d.Set("type", o.Value("type"))
		}
		return d.String()
	}
	return desired
}
