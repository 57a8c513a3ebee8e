package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends/clusters"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// clusterCreator is the part of the cluster repository an import needs.
type clusterCreator interface {
	Create(ctx context.Context, c store.Cluster) (store.Cluster, error)
}

// ImportResult says what happened to each cluster of an imported file.
type ImportResult = templates.ImportRow

// ImportClusters stores the registrations read from an oscar-cli config
// as ownerID's clusters. Basic-auth clusters keep their user and password
// (sealed by the store); clusters that use oidc-agent or a refresh token
// are registered to use the user's own login token when tokenAuth is
// true. A cluster whose name is taken, or whose login cannot be carried
// over, is skipped with the reason.
func ImportClusters(ctx context.Context, repo clusterCreator, ownerID int64, regs []clusters.Registration, shared []store.Cluster, tokenAuth bool) ([]ImportResult, error) {
	taken := map[string]bool{}
	for _, s := range shared {
		taken[s.Name] = true
	}
	var out []ImportResult
	for _, r := range regs {
		res := ImportResult{Name: r.Name, Endpoint: r.Endpoint}
		c := store.Cluster{OwnerID: ownerID, Name: r.Name, Endpoint: r.Endpoint, InsecureTLS: r.InsecureSkipVerify}
		switch r.Auth {
		case clusters.AuthBasic:
			c.AuthKind, c.Username, c.Password = store.AuthBasic, r.Username, r.Password
		case clusters.AuthOIDCAgent, clusters.AuthRefreshToken:
			if !tokenAuth {
				res.Skipped = "it logs in with OpenID Connect (" + string(r.Auth) + "), and this FDL Studio has no OpenID Connect login"
				out = append(out, res)
				continue
			}
			c.AuthKind = store.AuthToken
		default:
			res.Skipped = "it has no credentials"
			out = append(out, res)
			continue
		}
		if !clusterNameRE.MatchString(r.Name) {
			res.Skipped = "its name is not a valid cluster name here"
			out = append(out, res)
			continue
		}
		if taken[r.Name] {
			res.Skipped = "the operator already provides a cluster of that name"
			out = append(out, res)
			continue
		}
		if _, err := repo.Create(ctx, c); err != nil {
			if !errors.Is(err, store.ErrConflict) {
				return out, err
			}
			res.Skipped = "you already have a cluster of that name"
		}
		out = append(out, res)
	}
	return out, nil
}

// maxImportSize bounds an uploaded oscar-cli config.
const maxImportSize = 1 << 20

// ImportClustersForm handles "POST /clusters/import": an oscar-cli config
// file uploaded from the clusters page.
func (h *Handler) ImportClustersForm(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	fh, err := c.FormFile("config")
	if err != nil {
		return userError(http.StatusBadRequest, "Choose the oscar-cli config file to import (usually ~/.oscar-cli/config.yaml).", err)
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxImportSize+1))
	if err != nil {
		return err
	}
	if len(data) > maxImportSize {
		return userError(http.StatusRequestEntityTooLarge, fmt.Sprintf("%s is larger than 1 MiB; an oscar-cli config is a few lines.", fh.Filename), nil)
	}
	regs, err := clusters.ParseOSCARCLIConfig(data, fh.Filename, h.allowedHosts...)
	if err != nil {
		return userError(http.StatusUnprocessableEntity, err.Error(), err)
	}
	rows, err := ImportClusters(c.Request().Context(), h.clusters, u.ID, regs, h.shared, h.accessToken != nil)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, templates.ImportResultPage(templates.ImportProps{
		Chrome: h.Chrome(c, "Import clusters", "/clusters"), File: fh.Filename, Rows: rows,
	}))
}
