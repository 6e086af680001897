module sgw/tlcp/interop

go 1.26.8

replace sgw => ../..

require (
	github.com/coder/websocket v1.8.15
	github.com/tjfoc/gmsm v1.4.1
	sgw v0.0.0-00010101000000-000000000000
)

require (
	github.com/emmansun/gmsm v0.44.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
