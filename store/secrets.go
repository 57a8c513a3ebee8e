package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length in bytes of the key that encrypts secrets at rest
// (AES-256).
const KeySize = 32

// Sealer encrypts and decrypts the secrets kept in the store (cluster
// passwords, refresh tokens) with AES-256-GCM. A sealed value carries a
// version prefix so that the algorithm or key can change later.
type Sealer struct {
	aead cipher.AEAD
}

const sealedPrefix = "v1:"

// NewSealer builds a Sealer from a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext; the result is printable and safe to store.
// The associated data binds the ciphertext to its purpose (e.g.
// "cluster:42:password"), so a value copied to another row fails to open.
func (s *Sealer) Seal(plaintext []byte, associated string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, plaintext, []byte(associated))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// ErrUnseal is returned when a sealed value cannot be opened: wrong key,
// tampered data or a value sealed for another purpose.
var ErrUnseal = errors.New("cannot decrypt stored secret (wrong secret key or tampered data)")

// Open decrypts a value made by Seal with the same associated data.
func (s *Sealer) Open(sealed, associated string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return nil, ErrUnseal
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return nil, ErrUnseal
	}
	nonce, ct := raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():]
	pt, err := s.aead.Open(nil, nonce, ct, []byte(associated))
	if err != nil {
		return nil, ErrUnseal
	}
	return pt, nil
}

// LoadOrCreateKey reads the secret key from path, or, when the file does
// not exist, generates a new random key and writes it there with mode
// 0600 (atomically: a crash never leaves a half-written key). A key file
// that exists but is unreadable, has the wrong size or is readable by
// others is an error that names the file.
func LoadOrCreateKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
		if derr != nil || len(key) != KeySize {
			return nil, fmt.Errorf("secret key file %s: want %d random bytes in base64 on one line", path, KeySize)
		}
		if info, serr := os.Stat(path); serr == nil && info.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("secret key file %s: mode %v lets other users read it; run chmod 600 %s", path, info.Mode().Perm(), path)
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}

	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-key-*")
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			return nil, fmt.Errorf("secret key file %s: %w", path, err)
		}
	} else {
		tmp.Close()
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return key, nil
}
