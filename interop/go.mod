module github.com/sicher-go/sicher/interop

go 1.26.0

require github.com/sicher-go/sicher v0.0.0

replace github.com/sicher-go/sicher => ../
