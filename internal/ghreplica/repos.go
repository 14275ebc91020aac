package ghreplica

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// Repositories and their owners: visibility and push rights, the
// repository document, owner listings and repository_dispatch.

const docDispatch = docsBase + "/repos/repos#create-a-repository-dispatch-event"

// canPush reports whether the caller's token may write to rp. Callers hold r.mu.
func (c *call) canPush(rp *repo) bool {
	if c.token == nil {
		return false
	}
	full := strings.ToLower(rp.owner.login + "/" + rp.name)
	for _, p := range c.token.Push {
		p = strings.ToLower(p)
		if p == "*" || p == full || p == strings.ToLower(rp.owner.login)+"/*" {
			return true
		}
	}
	return false
}

// needPush answers like GitHub when a write lacks rights: 401 without a
// token; for a token that cannot write, 403 "Resource not accessible by
// integration" if it is an installation token and 404 otherwise (the
// repository's write side is not visible to it); 403 for an archived
// repository.
func (c *call) needPush(rp *repo) (reply, bool) {
	if c.token == nil {
		return requiresAuth(), false
	}
	if !c.canPush(rp) {
		if c.token.Integration {
			return fail(http.StatusForbidden, "Resource not accessible by integration", docsBase), false
		}
		return notFound(), false
	}
	if rp.spec.Archived {
		return fail(http.StatusForbidden, "Repository was archived so is read-only.", docsBase), false
	}
	return reply{}, true
}

// visibleRepo finds a repository the caller may see. Callers hold r.mu.
func (r *Replica) visibleRepo(c *call, o, n string) *repo {
	rp := r.repos[strings.ToLower(o+"/"+n)]
	if rp == nil || (rp.spec.Private && !c.canPush(rp)) {
		return nil
	}
	return rp
}

// inRepo resolves {owner}/{repo} for an endpoint under /repos/.
func (r *Replica) inRepo(e func(c *call, rp *repo) reply) endpoint {
	return func(c *call) reply {
		rp := r.visibleRepo(c, c.req.PathValue("owner"), c.req.PathValue("repo"))
		if rp == nil {
			return hidden(c)
		}
		return e(c, rp)
	}
}

// getRepo answers GET /repos/{owner}/{repo}.
func (r *Replica) getRepo(c *call, rp *repo) reply {
	return reply{status: http.StatusOK, body: repoJSON(c, rp)}
}

// dispatch answers POST /repos/{owner}/{repo}/dispatches.
func (r *Replica) dispatch(c *call, rp *repo) reply {
	if rep, ok := c.needPush(rp); !ok {
		return rep
	}
	var in struct {
		EventType     *string         `json:"event_type"`
		ClientPayload json.RawMessage `json:"client_payload"`
	}
	if err := json.Unmarshal(c.body, &in); err != nil {
		return fail(http.StatusBadRequest, "Problems parsing JSON", docDispatch)
	}
	if in.EventType == nil || *in.EventType == "" || len(*in.EventType) > 100 {
		return validation("Repository", "invalid", "event_type", docDispatch)
	}
	if len(in.ClientPayload) > 0 && string(in.ClientPayload) != "null" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(in.ClientPayload, &obj); err != nil || len(obj) > 10 {
			return validation("Repository", "invalid", "client_payload", docDispatch)
		}
	}
	r.dispatches = append(r.dispatches, Dispatch{Owner: rp.owner.login, Repo: rp.name, EventType: *in.EventType,
		ClientPayload: append(json.RawMessage(nil), in.ClientPayload...), Token: c.login, Time: c.now})
	return reply{status: http.StatusNoContent}
}

// listOwnerRepos answers GET /users/{owner}/repos and (org) GET
// /orgs/{owner}/repos.
func (r *Replica) listOwnerRepos(org bool) endpoint {
	return func(c *call) reply {
		o := r.owners[strings.ToLower(c.req.PathValue("owner"))]
		if o == nil || (org && !o.org) {
			return notFound()
		}
		var repos []*repo
		for _, rp := range r.repos {
			if rp.owner == o && (!rp.spec.Private || c.canPush(rp)) {
				repos = append(repos, rp)
			}
		}
		sort.Slice(repos, func(i, j int) bool {
			if org { // /orgs/{org}/repos sorts by creation by default
				if !repos[i].created.Equal(repos[j].created) {
					return repos[i].created.Before(repos[j].created)
				}
				return repos[i].id < repos[j].id
			}
			return strings.ToLower(repos[i].name) < strings.ToLower(repos[j].name)
		})
		list := make([]any, 0, len(repos))
		for _, rp := range repos {
			list = append(list, repoJSON(c, rp))
		}
		return paginate(c, list)
	}
}
