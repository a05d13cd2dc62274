//go:build !unix

package store

func abandonUserChange(*userGenFile) {}
