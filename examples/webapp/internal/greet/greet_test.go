package greet

import "testing"

func TestGreeting(t *testing.T) {
	if got, want := Greeting("gopher", "linux/amd64"), "hello gopher from linux/amd64"; got != want {
		t.Errorf("Greeting = %q, want %q", got, want)
	}
}

func TestGreetingWithoutName(t *testing.T) {
	if got, want := Greeting("", "linux/arm64"), "hello world from linux/arm64"; got != want {
		t.Errorf("Greeting = %q, want %q", got, want)
	}
}
