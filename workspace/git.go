package workspace

import (
	"os"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Author returns the signature pmpc commits with: GIT_AUTHOR_NAME and
// GIT_AUTHOR_EMAIL when set, else user.name and user.email from the
// repository's and the user's git config, else "pmpc".
func Author(r *git.Repository, getenv func(string) string) *object.Signature {
	if getenv == nil {
		getenv = os.Getenv
	}
	name, email := getenv("GIT_AUTHOR_NAME"), getenv("GIT_AUTHOR_EMAIL")
	if r != nil && (name == "" || email == "") {
		if c, err := r.ConfigScoped(config.GlobalScope); err == nil {
			if name == "" {
				name = c.User.Name
			}
			if email == "" {
				email = c.User.Email
			}
		}
	}
	if name == "" {
		name = "pmpc"
	}
	if email == "" {
		email = "pmpc@localhost"
	}
	return &object.Signature{Name: name, Email: email, When: time.Now()}
}
