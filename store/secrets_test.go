package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealerRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("hunter2"), "cluster:1:password")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "hunter2") {
		t.Fatalf("sealed value %q contains the plaintext", sealed)
	}
	got, err := s.Open(sealed, "cluster:1:password")
	if err != nil || string(got) != "hunter2" {
		t.Fatalf("Open = %q, %v", got, err)
	}

	tests := []struct {
		name, sealed, ad string
	}{
		{"other purpose", sealed, "cluster:2:password"},
		{"tampered", sealed[:len(sealed)-2] + "AA", "cluster:1:password"},
		{"no prefix", strings.TrimPrefix(sealed, "v1:"), "cluster:1:password"},
		{"garbage", "v1:!!!", "cluster:1:password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Open(tt.sealed, tt.ad); !errors.Is(err, ErrUnseal) {
				t.Fatalf("Open error = %v; want ErrUnseal", err)
			}
		})
	}

	other, _ := NewSealer(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(sealed, "cluster:1:password"); !errors.Is(err, ErrUnseal) {
		t.Fatalf("Open with another key: %v; want ErrUnseal", err)
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Fatal("NewSealer accepted a 5-byte key")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != KeySize {
		t.Fatalf("key length %d", len(k1))
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load gave another key (%v)", err)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: err = %v; want advice to chmod", err)
	}

	bad := filepath.Join(t.TempDir(), "bad.key")
	os.WriteFile(bad, []byte("not base64 at all\n"), 0o600)
	if _, err := LoadOrCreateKey(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("malformed key: err = %v; want an error naming the file", err)
	}
}
