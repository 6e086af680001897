package configs

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// templates are the production templates; together they set every key of
// the schema, or name it in a comment (templateComments).
var templates = []string{"gateway.example.yaml", "cluster.example.yaml"}

// templateComments are the keys the templates show only commented out,
// as type.key, with why: alternatives to a key they set, or keys that do
// not belong in production.
var templateComments = map[string]string{
	"gateway.Config.tls_terminated_by":           "the alternative to gateway.tls",
	"broker.Config.tls_terminated_by":            "the alternative to brokers.tls",
	"feed.SourceConfig.tunnel":                   "the alternative to a source's tls",
	"netsec.ClientTLSConfig.ca_pem":              "the demo's inline CA",
	"auth.Config.secret":                         "a shared secret in the file: the demo's",
	"auth.Config.secret_file":                    "the alternative to auth.keys",
	"auth.Config.signing_key":                    "for `gateway token`, not the gateway",
	"auth.KeyConfig.secret":                      "a shared secret in the file",
	"auth.KeyConfig.secret_file":                 "an HS256 key, the alternative to a public key",
	"auth.KeyConfig.private_key_file":            "a gateway verifies; the login service signs",
	"broker.SessionConfig.password":              "the alternative to password_file",
	"risk.Config.instruments":                    "defaults to the file's instruments",
	"configs.MarketBus.embedded":                 "the alternative to market_bus.url",
	"configs.EmbeddedNATS.listen":                "the alternative to market_bus.url",
	"configs.MarketBus.nkey_seed_file":           "the alternative to market_bus.credentials",
	"configs.MarketBus.insecure_plaintext":       "plain text across a network: an isolated segment only",
	"configs.MarketBus.inbox_prefix":             "an edge's key; the templates configure ingest nodes",
	"netsec.ServerTLSConfig.tlcp":                "national crypto beside TLS, only for SDK apps that speak TLCP",
	"netsec.ServerTLCPConfig.sign_cert_file":     "part of gateway.tls.tlcp",
	"netsec.ServerTLCPConfig.sign_key_file":      "part of gateway.tls.tlcp",
	"netsec.ServerTLCPConfig.enc_cert_file":      "part of gateway.tls.tlcp",
	"netsec.ServerTLCPConfig.enc_key_file":       "part of gateway.tls.tlcp",
	"netsec.ServerTLCPConfig.client_ca_file":     "part of gateway.tls.tlcp",
	"fix.LineConfig.tlcp":                        "the alternative to a line's tls, for a national-crypto upstream",
	"feed.SourceConfig.tlcp":                     "the alternative to a source's tls, for a national-crypto relay",
	"netsec.ClientTLCPConfig.ca_file":            "part of a line's tlcp",
	"netsec.ClientTLCPConfig.ca_pem":             "the demo's inline SM2 CA",
	"netsec.ClientTLCPConfig.server_name":        "part of a line's tlcp",
	"netsec.ClientTLCPConfig.sign_cert_file":     "part of a line's tlcp",
	"netsec.ClientTLCPConfig.sign_key_file":      "part of a line's tlcp",
	"netsec.ClientTLCPConfig.enc_cert_file":      "part of a line's tlcp",
	"netsec.ClientTLCPConfig.enc_key_file":       "part of a line's tlcp",
	"netsec.ClientTLCPConfig.certificate_verify": "part of a line's tlcp",
}

// TestTemplatesDocumentEveryKey checks that the production templates set
// every key of the schema (sim and fix_sim aside: configs/demo.yaml and
// configs/local.yaml show them), or show it in a comment for a reason
// given in templateComments. A key added to a Config must be added to a
// template.
func TestTemplatesDocumentEveryKey(t *testing.T) {
	want := map[string]bool{}
	ft := reflect.TypeOf(File{})
	for i := 0; i < ft.NumField(); i++ {
		if k := yamlKey(ft.Field(i)); k != "sim" && k != "fix_sim" && k != "" {
			want[typeKey(ft, k)] = true
			schemaKeys(ft.Field(i).Type, want, map[reflect.Type]bool{})
		}
	}
	set := map[string]bool{}
	var text strings.Builder
	for _, name := range templates {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		setKeys(doc.Content[0], ft, set)
	}
	var missing []string
	for k := range want {
		if set[k] {
			continue
		}
		if _, ok := templateComments[k]; !ok {
			missing = append(missing, k)
			continue
		}
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !regexp.MustCompile(`(?m)#.*\b` + leaf + `:`).MatchString(text.String()) {
			t.Errorf("%s: no template shows it, even in a comment", k)
		}
	}
	slices.Sort(missing)
	for _, k := range missing {
		t.Errorf("%s: no template sets it (add it to %s, or to templateComments with the reason)", k, strings.Join(templates, " or "))
	}
	for k := range templateComments {
		if set[k] {
			t.Errorf("templateComments lists %s, which a template sets", k)
		}
		if !want[k] {
			t.Errorf("templateComments lists %s, which is not in the schema", k)
		}
	}
}

// yamlKey is a struct field's YAML key, "" for a field not in YAML.
func yamlKey(f reflect.StructField) string {
	k := strings.Split(f.Tag.Get("yaml"), ",")[0]
	if k == "-" || !f.IsExported() || k == "" {
		return ""
	}
	return k
}

// typeKey names a key of a struct type: "feed.Config.window".
func typeKey(t reflect.Type, key string) string { return t.String() + "." + key }

// base strips pointers, slices and maps down to the element type.
func base(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	return t
}

// schemaKeys adds every key of the struct type t, and of the structs
// below it, to out.
func schemaKeys(t reflect.Type, out map[string]bool, seen map[reflect.Type]bool) {
	t = base(t)
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		if k := yamlKey(t.Field(i)); k != "" {
			out[typeKey(t, k)] = true
			schemaKeys(t.Field(i).Type, out, seen)
		}
	}
}

// setKeys adds to out the keys that n, decoded into a value of type t,
// sets.
func setKeys(n *yaml.Node, t reflect.Type, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			for j := 0; j < t.NumField(); j++ {
				if yamlKey(t.Field(j)) == key {
					out[typeKey(t, key)] = true
					setKeys(n.Content[i+1], t.Field(j).Type, out)
				}
			}
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			setKeys(c, t.Elem(), out)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			setKeys(n.Content[i], t.Elem(), out)
		}
	}
}
