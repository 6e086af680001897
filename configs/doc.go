// Package configs holds the gateway's deployment configuration: the schema
// of the one YAML file a deployment uses (File), its strict loader (an
// unknown or invalid key is an error naming the key and the file), and the
// embedded demo configuration that `demo` runs when given no file.
//
// demo.yaml runs everything on loopback in one process; local.yaml runs
// the simulator (`sim`) and the gateway (`run`) as two processes on
// loopback; gateway.example.yaml is the commented production template of
// one gateway, cluster.example.yaml of a cluster node. Each passes
// `gateway check-config` in the tests (the templates with stand-in files
// for the certificates and keys they name), and the templates together
// set or show every key of the schema.
package configs
