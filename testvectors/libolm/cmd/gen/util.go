package main

import "strconv"

func itoa[T ~int | ~uint32 | ~uint64 | ~int64](n T) string { return strconv.FormatInt(int64(n), 10) }
