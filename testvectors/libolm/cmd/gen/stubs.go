package main
func genOlm(){}
func genSAS(){}
func genPK(){}
func genPickles(){}
