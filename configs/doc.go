// Package configs holds the gateway's deployment configuration: the schema
// of the one YAML file a deployment uses (File), its strict loader (an
// unknown or invalid key is an error naming the key and the file), and the
// embedded demo configuration that `demo` runs when given no file.
//
// demo.yaml runs everything on loopback; gateway.example.yaml is the
// commented production template. Both are tested to load.
package configs
