package fsblob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
)

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "plinth-blobs")
	defer os.RemoveAll(dir)
	s, err := fsblob.New(dir)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	key := "tenants/acme/kb/docs/raw/hello.txt"
	if _, err := s.Put(ctx, key, strings.NewReader("hello"), blob.PutOptions{IfNoneMatch: true}); err != nil {
		panic(err)
	}
	_, err = s.Put(ctx, key, strings.NewReader("again"), blob.PutOptions{IfNoneMatch: true})
	fmt.Println(errors.Is(err, blob.ErrPreconditionFailed))
	rc, obj, err := s.Get(ctx, key)
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	body, _ := io.ReadAll(rc)
	fmt.Println(string(body), obj.ContentType)
	// Output:
	// true
	// hello text/plain; charset=utf-8
}
