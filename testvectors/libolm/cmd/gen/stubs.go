package main
func genPickles(){}
