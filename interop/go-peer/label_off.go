//go:build !memberlist_label

// Debian's memberlist 0.2.2 has no labels: -label is refused.
package main

import (
	"log"

	"github.com/hashicorp/memberlist"
)

func setLabel(c *memberlist.Config, label string) {
	if label != "" {
		log.Fatalf("-label %q: this go-peer was built without labels (-tags memberlist_label, memberlist 0.3.1 or later)", label)
	}
	_ = c
}
