package ansible

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// mapping builds an ordered YAML mapping.
type mapping struct{ n *yaml.Node }

func newMap() *mapping { return &mapping{n: &yaml.Node{Kind: yaml.MappingNode}} }

func (m *mapping) node(key string, v *yaml.Node) *mapping {
	m.n.Content = append(m.n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return m
}

// str sets a user string. Strings that Jinja would template are tagged
// !unsafe so Ansible uses them verbatim.
func (m *mapping) str(key, v string) *mapping { return m.node(key, strNode(v)) }

// expr sets a Jinja expression pmpc wrote itself (never user data).
func (m *mapping) expr(key, v string) *mapping {
	return m.node(key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle})
}

func (m *mapping) optStr(key, v string) *mapping {
	if v != "" {
		m.str(key, v)
	}
	return m
}

func (m *mapping) int(key string, v int) *mapping {
	return m.node(key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)})
}

func (m *mapping) optInt(key string, v *int) *mapping {
	if v != nil {
		m.int(key, *v)
	}
	return m
}

func (m *mapping) bool(key string, v bool) *mapping {
	return m.node(key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)})
}

func (m *mapping) optBool(key string, v *bool) *mapping {
	if v != nil {
		m.bool(key, *v)
	}
	return m
}

func (m *mapping) list(key string, vs []string) *mapping {
	return m.node(key, strList(vs))
}

func (m *mapping) sub(key string, s *mapping) *mapping { return m.node(key, s.n) }

func (m *mapping) len() int { return len(m.n.Content) / 2 }

func strList(vs []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, v := range vs {
		n.Content = append(n.Content, strNode(v))
	}
	return n
}

func strNode(v string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	if strings.Contains(v, "{{") || strings.Contains(v, "{%") || strings.Contains(v, "{#") {
		n.Tag = "!unsafe"
	}
	if strings.Contains(v, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}

func nullNode() *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""} }
