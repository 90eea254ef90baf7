package matrixhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/internal/jsonstrict"
)

// ErrNotAFile reports a DownloadFile of content without "file" or "url".
var ErrNotAFile = errors.New("matrixhttp: content has no file")

// File is an attachment: its name, MIME type and plaintext.
type File struct {
	Name, MimeType string
	Data           []byte
	// MsgType is "m.file", "m.image", "m.audio" or "m.video"; empty means "m.file".
	MsgType string
}

// UploadMedia uploads data (POST /_matrix/media/v3/upload, spec "Content repository",
// https://spec.matrix.org/v1.19/client-server-api/#content-repository) and returns its mxc://
// URI. Errors: *Error (M_TOO_LARGE), ErrMalformed.
func (c *Client) UploadMedia(ctx context.Context, data []byte, contentType, filename string) (string, error) {
	path := "/_matrix/media/v3/upload"
	if filename != "" {
		path += "?filename=" + url.QueryEscape(filename)
	}
	if data == nil {
		data = []byte{}
	}
	resp, err := c.t.do(ctx, request{method: "POST", path: path, body: data, contentType: contentType})
	if err != nil {
		return "", err
	}
	var r struct {
		ContentURI string `json:"content_uri"`
	}
	if jsonstrict.Unmarshal(resp, &r) != nil || !strings.HasPrefix(r.ContentURI, "mxc://") {
		return "", fmt.Errorf("%w: media upload", ErrMalformed)
	}
	return r.ContentURI, nil
}

// DownloadMedia downloads an mxc:// URI with the authenticated media API
// (GET /_matrix/client/v1/media/download/{serverName}/{mediaId}, spec v1.11), falling back to
// the unauthenticated GET /_matrix/media/v3/download path when the server does not know the
// former (Dendrite 0.13 and other servers before v1.11). Errors: *Error, ErrMalformed (not an
// mxc:// URI).
func (c *Client) DownloadMedia(ctx context.Context, mxc string) ([]byte, error) {
	server, id, ok := strings.Cut(strings.TrimPrefix(mxc, "mxc://"), "/")
	if !strings.HasPrefix(mxc, "mxc://") || !ok || server == "" || id == "" || strings.Contains(id, "/") {
		return nil, fmt.Errorf("%w: media URI %q", ErrMalformed, mxc)
	}
	tail := url.PathEscape(server) + "/" + url.PathEscape(id)
	data, err := c.t.do(ctx, request{method: "GET", path: "/_matrix/client/v1/media/download/" + tail})
	var e *Error
	if errors.As(err, &e) && (e.Status == http.StatusNotFound && (e.ErrCode == "M_UNRECOGNIZED" || e.ErrCode == "") ||
		e.Status == http.StatusMethodNotAllowed || e.Status == http.StatusBadRequest && e.ErrCode == "M_UNRECOGNIZED") {
		return c.t.do(ctx, request{method: "GET", path: "/_matrix/media/v3/download/" + tail})
	}
	return data, err
}

// SendFile sends an attachment into a room. In an encrypted room the file is encrypted with
// package attachment, the ciphertext uploaded, and the m.room.message (msgtype m.file or the
// File's) carries the EncryptedFile as "file" inside the Megolm-encrypted event (spec "Sending
// encrypted attachments", https://spec.matrix.org/v1.19/client-server-api/#sending-encrypted-attachments);
// in an unencrypted room the plaintext is uploaded and referenced by "url". It returns the
// event id. Errors: those of UploadMedia and SendMessage.
func (c *Client) SendFile(ctx context.Context, roomID string, f *File) (string, error) {
	msgType := f.MsgType
	if msgType == "" {
		msgType = "m.file"
	}
	content := map[string]any{"msgtype": msgType, "body": f.Name, "filename": f.Name,
		"info": map[string]any{"mimetype": f.MimeType, "size": len(f.Data)}}
	if c.Encrypted(roomID) {
		ct, ef, err := attachment.Encrypt(f.Data)
		if err != nil {
			return "", err
		}
		if ef.URL, err = c.UploadMedia(ctx, ct, "application/octet-stream", ""); err != nil {
			return "", err
		}
		content["file"] = ef
	} else {
		uri, err := c.UploadMedia(ctx, f.Data, f.MimeType, f.Name)
		if err != nil {
			return "", err
		}
		content["url"] = uri
	}
	return c.SendMessage(ctx, roomID, "m.room.message", content)
}

// DownloadFile fetches the attachment an m.room.message content refers to: an encrypted
// "file" is downloaded, its SHA-256 checked and decrypted (attachment.Decrypt); a plain "url"
// is downloaded. Errors: ErrNotAFile, attachment.ErrAuthentication (the ciphertext is not the
// one the sender encrypted), attachment.ErrMalformed, and DownloadMedia's.
func (c *Client) DownloadFile(ctx context.Context, content json.RawMessage) (*File, error) {
	var m struct {
		MsgType  string          `json:"msgtype"`
		Body     string          `json:"body"`
		Filename string          `json:"filename"`
		URL      string          `json:"url"`
		File     json.RawMessage `json:"file"`
		Info     struct {
			MimeType string `json:"mimetype"`
		} `json:"info"`
	}
	if err := jsonstrict.Unmarshal(content, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotAFile, err)
	}
	f := &File{Name: m.Filename, MimeType: m.Info.MimeType, MsgType: m.MsgType}
	if f.Name == "" {
		f.Name = m.Body
	}
	switch {
	case len(m.File) > 0:
		ef, err := attachment.ParseEncryptedFile(m.File)
		if err != nil {
			return nil, err
		}
		ct, err := c.DownloadMedia(ctx, ef.URL)
		if err != nil {
			return nil, err
		}
		if f.Data, err = attachment.Decrypt(ct, ef, nil); err != nil {
			return nil, err
		}
	case m.URL != "":
		var err error
		if f.Data, err = c.DownloadMedia(ctx, m.URL); err != nil {
			return nil, err
		}
	default:
		return nil, ErrNotAFile
	}
	return f, nil
}
