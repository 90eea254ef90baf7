module github.com/sicher-go/sicher/e2e

go 1.26.0

replace github.com/sicher-go/sicher => ../
