#!/usr/bin/env bash
# Smoke test of the Harbor STAND-IN (testdata/harbor-standin.sh and harbor-standin.py), with
# real clients: curl and skopeo. It proves the stand-in answers as its header says: system
# info; projects (create 201/409/400/401/403, existence check, get, list, delete); pushes with
# skopeo by a push robot, refused into a missing project and for a name without a project
# segment with nothing reaching the registry; a pull-only robot that pulls but cannot push;
# the token flow (401 challenge, token, 200) by hand; robots made through the API and used;
# manifest deletes with and without the delete right; the referrers flag off and on; the
# flag for real Harbor's missing-project answer; streamed uploads of 96 MiB (chunked and with
# Content-Length) without the front's memory growing; concurrent project creation; state kept
# across a restart; no secret in requests.log; and the same over HTTPS (--tls).
#
#   testdata/harbor-standin-check.sh          exits 0 when every check passes
# Needs curl, skopeo, openssl, docker-registry (Debian's), Debian's /usr/bin/python3; no
# network beyond loopback, no image hub: the test image is an OCI layout written here.
# KEEP=1 keeps the work directory for a look afterwards.
# The account names and passwords here hold a literal $ on purpose (Harbor's robot$ prefix):
# shellcheck disable=SC2016
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
standin=$here/harbor-standin.sh
python=/usr/bin/python3
[[ -x "$python" ]] || python=$(command -v python3)
work=$(mktemp -d "${TMPDIR:-/tmp}/harbor-standin-check.XXXXXX")
dir=$work/harbor
tlsdir=$work/harbor-tls
passed=0

cleanup() {
  "$standin" stop "$dir" >/dev/null 2>&1 || true
  "$standin" stop "$tlsdir" >/dev/null 2>&1 || true
  if [[ -n "${KEEP:-}" ]]; then
    echo "work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [[ -f "$work/body" ]]; then
    echo "--- last response body:" >&2
    head -c 2000 "$work/body" >&2 || true
    echo >&2
  fi
  exit 1
}
ok() {
  passed=$((passed + 1))
  echo "ok $passed - $*"
}

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# call METHOD URL [curl args...]: status in $code, body in $work/body, headers in $work/headers
call() {
  local method=$1 url=$2
  shift 2
  local args=(-s -g -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method")
  [[ "$method" == HEAD ]] && args=(-s -g -I -o "$work/body" -D "$work/headers" -w '%{http_code}')
  code=$(curl "${args[@]}" "$@" "$url") || fail "curl $method $url could not connect"
}

# json EXPR [FILE]: evaluates a Python expression over the JSON document as d
json() {
  "$python" -c 'import json, sys; d = json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' \
    "$1" "${2:-$work/body}"
}

header() { # NAME: that response header's value (last one), without CR
  grep -i "^$1:" "$work/headers" | tail -n 1 | sed -e 's/^[^:]*: *//' -e 's/\r$//' || true
}

expect_code() { # STATUS WHAT
  [[ "$code" == "$1" ]] || fail "$2: status $code, expected $1"
}

expect_error() { # STATUS CODE MESSAGE WHAT: Harbor's {"errors":[{"code","message"}]}
  expect_code "$1" "$4"
  local got_code got_message
  got_code=$(json 'd["errors"][0]["code"]') || fail "$4: no Harbor error body"
  got_message=$(json 'd["errors"][0]["message"]')
  [[ "$got_code" == "$2" ]] || fail "$4: error code $got_code, expected $2"
  [[ "$got_message" == "$3" ]] || fail "$4: message '$got_message', expected '$3'"
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# ---- the accounts and the pre-created projects ------------------------------------------
mkdir -p "$dir"
cat >"$dir/accounts.json" <<'JSON'
[
  {"name": "admin", "password": "Admin$Pass1", "admin": true},
  {"name": "robot$ferry-push", "password": "Push$Secret1", "create_projects": false,
   "permissions": {"*": ["pull", "push"]}},
  {"name": "robot$ferry-pull", "password": "Pull$Secret1", "permissions": {"*": ["pull"]}},
  {"name": "robot$ferry-delete", "password": "Delete$Secret1",
   "permissions": {"ferry": ["pull", "push", "delete"]}},
  {"name": "robot$creator", "password": "Creator$Secret1", "create_projects": true},
  {"name": "alice", "password": "Alice$Pass1"}
]
JSON
cat >"$dir/state.json" <<'JSON'
{"projects": [{"name": "ferry", "public": false}, {"name": "pub", "public": true}]}
JSON
admin='admin:Admin$Pass1'
push='robot$ferry-push:Push$Secret1'
pull='robot$ferry-pull:Pull$Secret1'
deleter='robot$ferry-delete:Delete$Secret1'
creator='robot$creator:Creator$Secret1'
alice='alice:Alice$Pass1'
secrets_seen=('Admin$Pass1' 'Push$Secret1' 'Pull$Secret1' 'Delete$Secret1' 'Creator$Secret1' 'Alice$Pass1')

port=$(free_port)
host=$("$standin" start "$dir" "$port") || fail "the stand-in did not start"
[[ "$host" == "127.0.0.1:$port" ]] || fail "start printed '$host'"
base=http://$host
[[ -s "$dir/harbor.pid" && -s "$dir/registry/registry.pid" ]] || fail "pid files missing"
rport=$(cat "$dir/registry.port")
ok "started on $host, registry on 127.0.0.1:$rport"

# The registry itself is on loopback without auth; everything below goes through the front.
reglog=$dir/registry/registry.log
regdata=$dir/registry/data/docker/registry/v2/repositories

# ---- system info ------------------------------------------------------------------------
call GET "$base/api/v2.0/systeminfo"
expect_code 200 "systeminfo"
[[ "$(json 'd["harbor_version"]')" == v2.11.0-standin ]] || fail "harbor_version"
[[ "$(json 'd["auth_mode"]')" == db_auth ]] || fail "auth_mode"
[[ "$(json 'd["registry_url"]')" == "$host" ]] || fail "registry_url"
[[ "$(json 'd["external_url"]')" == "$base" ]] || fail "external_url"
[[ "$(json 'd["with_chartmuseum"]')" == False ]] || fail "with_chartmuseum"
ok "systeminfo anonymously: harbor_version, auth_mode, registry_url, external_url"

call GET "$base/api/v2.0/nothing-here"
expect_error 404 NOT_FOUND "path /api/v2.0/nothing-here was not found" "unknown API path"
call GET "$base/somewhere"
expect_code 404 "unknown path"
call PUT "$base/api/v2.0/projects"
expect_code 405 "PUT on /projects"
ok "unknown paths: 404, wrong method: 405"

# ---- projects -------------------------------------------------------------------------------
new_project() { # CREDS-or-- BODY
  local auth=()
  [[ "$1" != - ]] && auth=(-u "$1")
  call POST "$base/api/v2.0/projects" "${auth[@]}" -H 'Content-Type: application/json' -d "$2"
}
new_project - '{"project_name": "made", "metadata": {"public": "false"}}'
expect_error 401 UNAUTHORIZED unauthorized "create without credentials"
new_project 'admin:wrong' '{"project_name": "made", "metadata": {"public": "false"}}'
expect_error 401 UNAUTHORIZED unauthorized "create with a wrong password"
new_project "$admin" '{"project_name": "made", "metadata": {"public": "false"}}'
expect_code 201 "admin creates a project"
made_id=$(json '[p["project_id"] for p in d["projects"] if p["name"] == "made"][0]' "$dir/state.json")
[[ "$(header Location)" == "/api/v2.0/projects/$made_id" ]] || fail "Location $(header Location)"
[[ "$(json '[p["public"] for p in d["projects"] if p["name"] == "made"][0]' "$dir/state.json")" == False ]] ||
  fail "state.json: made should be private"
ok "admin creates a project: 201, Location /api/v2.0/projects/$made_id, in state.json"

new_project "$admin" '{"project_name": "made", "metadata": {"public": "true"}}'
expect_error 409 CONFLICT "The project named made already exists" "create twice"
for bad in Made -made made- a..b 'a b' 'ü'; do
  new_project "$admin" "{\"project_name\": \"$bad\"}"
  expect_error 400 BAD_REQUEST "project name is not in lower case or contains illegal characters" \
    "project name '$bad'"
done
new_project "$admin" '{"project_name": ""}'
expect_error 400 BAD_REQUEST "Project name  is illegal in length. (greater than 255 or less than 1)" \
  "empty project name"
long=$(printf 'a%.0s' $(seq 256))
new_project "$admin" "{\"project_name\": \"$long\"}"
expect_code 400 "256 characters"
new_project "$admin" '{"project_name": "fine", "metadata": {"public": "yes"}}'
expect_error 400 BAD_REQUEST "metadata.public should only be 'true' or 'false', but got: 'yes'" \
  "metadata.public yes"
new_project "$admin" '{"project_name": '
expect_code 400 "broken JSON"
[[ "$(json 'd["errors"][0]["code"]')" == BAD_REQUEST ]] || fail "broken JSON: code"
new_project "$admin" '["a list"]'
expect_code 400 "a JSON list"
ok "409 CONFLICT for an existing name; 400 BAD_REQUEST for bad names, lengths, public, JSON"

new_project "$push" '{"project_name": "pushers", "metadata": {"public": "false"}}'
expect_error 403 FORBIDDEN "Only system admin can create project" "robot without create_projects"
new_project "$alice" '{"project_name": "alices"}'
expect_error 403 FORBIDDEN "Only system admin can create project" "user without create_projects"
new_project "$creator" '{"project_name": "created", "public": true}'
expect_code 201 "robot with create_projects"
call GET "$base/api/v2.0/projects/created" -u "$admin"
[[ "$(json 'd["metadata"]["public"]')" == true ]] || fail "the deprecated public: true was ignored"
ok "403 'Only system admin can create project' for robots and users without create_projects; create_projects may"

call HEAD "$base/api/v2.0/projects?project_name=made" -u "$push"
expect_code 200 "HEAD existing project"
call HEAD "$base/api/v2.0/projects?project_name=absent" -u "$push"
expect_code 404 "HEAD missing project"
call HEAD "$base/api/v2.0/projects?project_name=made"
expect_code 401 "HEAD without credentials"
ok "HEAD /api/v2.0/projects?project_name=: 200, 404, 401"

call GET "$base/api/v2.0/projects/made" -u "$admin"
expect_code 200 "GET project"
[[ "$(json 'd["name"], d["project_id"], d["metadata"]["public"], d["repo_count"]')" == "('made', $made_id, 'false', 0)" ]] ||
  fail "project JSON: $(cat "$work/body")"
json 'd["creation_time"]' >/dev/null || fail "creation_time"
call GET "$base/api/v2.0/projects/$made_id" -u "$push"
expect_code 200 "GET project by id with a * robot"
call GET "$base/api/v2.0/projects/made"
expect_error 401 UNAUTHORIZED unauthorized "GET private project anonymously"
call GET "$base/api/v2.0/projects/made" -u "$alice"
expect_error 403 FORBIDDEN forbidden "GET private project without rights"
call GET "$base/api/v2.0/projects/absent" -u "$admin"
expect_error 404 NOT_FOUND "project absent not found" "GET missing project"
call GET "$base/api/v2.0/projects/pub"
expect_code 200 "GET public project anonymously"
ok "GET project: 200 (name or id), 401 anonymous, 403 no rights, 404 missing, public for all"

call GET "$base/api/v2.0/projects?name=ade&page=1&page_size=10" -u "$admin"
expect_code 200 "list projects"
[[ "$(json '[p["name"] for p in d]')" == "['made']" ]] || fail "list by name: $(cat "$work/body")"
[[ "$(header X-Total-Count)" == 1 ]] || fail "X-Total-Count $(header X-Total-Count)"
call GET "$base/api/v2.0/projects?page=1&page_size=2" -u "$admin"
[[ "$(header X-Total-Count)" == 4 && "$(json 'len(d)')" == 2 ]] || fail "paging: $(header X-Total-Count)"
[[ "$(header Link)" == *'rel="next"'* ]] || fail "no Link to the next page"
call GET "$base/api/v2.0/projects"
[[ "$(json 'sorted(p["name"] for p in d)')" == "['created', 'pub']" ]] ||
  fail "anonymous list: $(cat "$work/body")"
call GET "$base/api/v2.0/projects" -u "$alice"
[[ "$(json 'sorted(p["name"] for p in d)')" == "['created', 'pub']" ]] || fail "alice's list"
ok "list projects: substring name filter, X-Total-Count, Link, visibility"

new_project "$admin" '{"project_name": "doomed"}'
call DELETE "$base/api/v2.0/projects/doomed" -u "$push"
expect_error 403 FORBIDDEN forbidden "delete project as a robot"
call DELETE "$base/api/v2.0/projects/doomed"
expect_error 401 UNAUTHORIZED unauthorized "delete project anonymously"
call DELETE "$base/api/v2.0/projects/doomed" -u "$admin"
expect_code 200 "delete project"
call HEAD "$base/api/v2.0/projects?project_name=doomed" -u "$admin"
expect_code 404 "deleted project"
ok "DELETE project: admin 200, robot 403, anonymous 401"

# ---- a small image, written as an OCI layout by hand --------------------------------------
layout=$work/layout
mkdir -p "$layout/blobs/sha256" "$work/rootfs"
put_blob() { # FILE: moves it into the layout, prints its digest
  local d
  d=$(sha256 "$1")
  mv "$1" "$layout/blobs/sha256/$d"
  echo "sha256:$d"
}
size_of() { stat -c %s "$layout/blobs/sha256/${1#sha256:}"; }
echo "hello from the harbor stand-in check" >"$work/rootfs/hello.txt"
tar -C "$work/rootfs" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/layer.tar" hello.txt
diff_id=sha256:$(sha256 "$work/layer.tar")
gzip -n -c "$work/layer.tar" >"$work/layer.tar.gz"
layer=$(put_blob "$work/layer.tar.gz")
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
  "$diff_id" >"$work/config.json"
config=$(put_blob "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
  "$config" "$(size_of "$config")" "$layer" "$(size_of "$layer")" >"$work/manifest.json"
manifest=$(put_blob "$work/manifest.json")
manifest_size=$(size_of "$manifest")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
  "$manifest" "$manifest_size" >"$layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
ok "an OCI layout with one tiny layer: $manifest"

skopeo_out=$work/skopeo.out
skopeo_copy() { # CREDS DEST-REPO:TAG [extra skopeo args]: runs skopeo copy, output in $skopeo_out
  local creds=$1 dest=$2
  shift 2
  timeout 120 skopeo copy --retry-times 0 --dest-tls-verify=false --dest-creds "$creds" "$@" \
    "oci:$layout:v1" "docker://$host/$dest" >"$skopeo_out" 2>&1
}

# ---- pushes with skopeo ---------------------------------------------------------------------
skopeo_copy "$push" ferry/hello:v1 || fail "skopeo push by robot\$ferry-push: $(cat "$skopeo_out")"
call GET "$base/v2/ferry/hello/manifests/v1" -u "$admin" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_code 200 "pushed manifest"
[[ "$(header Docker-Content-Digest)" == "$manifest" ]] || fail "pushed digest $(header Docker-Content-Digest)"
grep -q "^POST /v2/ferry/hello/blobs/uploads/ robot\$ferry-push 202$" "$dir/requests.log" ||
  fail "requests.log has no upload by robot\$ferry-push"
grep -q "^PUT /v2/ferry/hello/manifests/v1 robot\$ferry-push 201$" "$dir/requests.log" ||
  fail "requests.log has no manifest PUT"
[[ -d "$regdata/ferry/hello" ]] || fail "the registry did not store ferry/hello"
call GET "$base/api/v2.0/projects/ferry" -u "$admin"
[[ "$(json 'd["repo_count"]')" == 1 ]] || fail "repo_count after a push"
ok "skopeo pushes ferry/hello:v1 as robot\$ferry-push (token flow); requests.log and storage show it"

: >"$dir/requests.log"
if skopeo_copy "$push" quay.io/hello:v1; then fail "push into a missing project succeeded"; fi
grep -q "project quay.io not found" "$skopeo_out" || fail "skopeo said: $(cat "$skopeo_out")"
grep -q '^POST /v2/quay.io/hello/blobs/uploads/ robot\$ferry-push 404$' "$dir/requests.log" ||
  fail "requests.log: $(cat "$dir/requests.log")"
! grep -q 'quay.io' "$reglog" || fail "a request for quay.io reached the registry"
[[ ! -e "$regdata/quay.io" ]] || fail "the registry stored quay.io"
call POST "$base/v2/quay.io/hello/blobs/uploads/" -u "$push"
expect_error 404 NOT_FOUND "project quay.io not found" "POST upload into a missing project"
call GET "$base/v2/quay.io/hello/manifests/v1" -u "$pull"
expect_error 404 NOT_FOUND "project quay.io not found" "pull from a missing project"
ok "push into a missing project: skopeo fails with 'project quay.io not found', 404 NOT_FOUND, nothing reaches the registry"

touch "$dir/missing-project-401"
call POST "$base/v2/quay.io/hello/blobs/uploads/" -u "$push"
expect_error 401 UNAUTHORIZED "project quay.io not found: project quay.io not found" \
  "missing project with the missing-project-401 flag"
if skopeo_copy "$push" quay.io/hello:v1; then fail "push into a missing project succeeded"; fi
rm "$dir/missing-project-401"
! grep -q 'quay.io' "$reglog" || fail "a request for quay.io reached the registry"
ok "flag missing-project-401: real Harbor's 401 'project quay.io not found: project quay.io not found'"

if skopeo_copy "$push" nginx:v1; then fail "push without a project segment succeeded"; fi
call GET "$base/v2/nginx/manifests/1" -u "$push"
expect_error 400 BAD_REQUEST "bad request: invalid repository name: nginx" "no project segment"
call GET "$base/v2/nginx/manifests/1"
expect_error 400 BAD_REQUEST "bad request: invalid repository name: nginx" "no project segment, anonymous"
! grep -q '/v2/nginx' "$reglog" || fail "a request for nginx reached the registry"
ok "a name without a project segment: 400 BAD_REQUEST 'bad request: invalid repository name: nginx', not forwarded"

# ---- a pull-only robot -----------------------------------------------------------------------
timeout 60 skopeo inspect --retry-times 0 --tls-verify=false --creds "$pull" --raw \
  "docker://$host/ferry/hello:v1" >"$work/inspected" 2>"$skopeo_out" ||
  fail "skopeo inspect by robot\$ferry-pull: $(cat "$skopeo_out")"
[[ "sha256:$(sha256 "$work/inspected")" == "$manifest" ]] || fail "inspected manifest differs"
timeout 60 skopeo copy --retry-times 0 --src-tls-verify=false --src-creds "$pull" \
  "docker://$host/ferry/hello:v1" "oci:$work/pulled:v1" >"$skopeo_out" 2>&1 ||
  fail "skopeo copy out by robot\$ferry-pull: $(cat "$skopeo_out")"
cmp -s "$layout/blobs/sha256/${layer#sha256:}" "$work/pulled/blobs/sha256/${layer#sha256:}" ||
  fail "the pulled layer differs"
: >"$dir/requests.log"
if skopeo_copy "$pull" ferry/other:v1; then fail "a pull-only robot pushed"; fi
grep -q "unauthorized to access repository: ferry/other, action: push" "$skopeo_out" ||
  fail "skopeo said: $(cat "$skopeo_out")"
grep -q '^POST /v2/ferry/other/blobs/uploads/ robot\$ferry-pull 401$' "$dir/requests.log" ||
  fail "requests.log: $(cat "$dir/requests.log")"
! grep -q 'POST /v2/ferry/other/blobs/uploads' "$reglog" || fail "the upload reached the registry"
ok "robot\$ferry-pull pulls (inspect, copy out) but its push is refused before the registry"

# ---- the token flow by hand ---------------------------------------------------------------
call GET "$base/v2/ferry/hello/manifests/v1"
expect_code 401 "manifest without credentials"
challenge=$(header WWW-Authenticate)
[[ "$challenge" == "Bearer realm=\"$base/service/token\",service=\"harbor-registry\",scope=\"repository:ferry/hello:pull\"" ]] ||
  fail "challenge: $challenge"
realm=$(sed -E 's/.*realm="([^"]*)".*/\1/' <<<"$challenge")
service=$(sed -E 's/.*service="([^"]*)".*/\1/' <<<"$challenge")
scope=$(sed -E 's/.*scope="([^"]*)".*/\1/' <<<"$challenge")
call GET "$realm?service=$service&scope=$scope" -u "$pull"
expect_code 200 "token for robot\$ferry-pull"
token=$(json 'd["token"]')
[[ "$(json 'd["access_token"] == d["token"] and d["expires_in"] == 1800')" == True ]] || fail "token body"
json 'd["issued_at"]' >/dev/null || fail "issued_at"
secrets_seen+=("$token")
call GET "$base/v2/ferry/hello/manifests/v1" -H "Authorization: Bearer $token" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_code 200 "manifest with the token"
[[ "$(header Docker-Content-Digest)" == "$manifest" ]] || fail "digest with the token"
ok "token flow: 401 Bearer challenge -> /service/token -> 200 with the token"

call POST "$base/v2/ferry/hello/blobs/uploads/" -H "Authorization: Bearer $token"
expect_error 401 UNAUTHORIZED \
  "unauthorized to access repository: ferry/hello, action: push: unauthorized to access repository: ferry/hello, action: push" \
  "push with a pull token"
[[ "$(header WWW-Authenticate)" == 'Basic realm="harbor"' ]] || fail "challenge $(header WWW-Authenticate)"
call GET "$realm?service=harbor-registry&scope=repository:ferry/hello:pull,push" -u "$pull"
token2=$(json 'd["token"]')
call POST "$base/v2/ferry/hello/blobs/uploads/" -H "Authorization: Bearer $token2"
expect_code 401 "push with a pull,push token of a pull-only robot"
call GET "$realm?service=harbor-registry&scope=repository:ferry/hello:pull"
anon=$(json 'd["token"]')
call GET "$base/v2/ferry/hello/manifests/v1" -H "Authorization: Bearer $anon"
expect_code 401 "anonymous token on a private project"
call GET "$realm?service=harbor-registry&scope=repository:ferry/hello:pull" -u 'robot$ferry-pull:wrong'
expect_code 401 "token with a wrong secret"
call GET "$realm?service=harbor-registry"
expect_code 401 "anonymous token without scope"
call GET "$realm?service=other&scope=repository:ferry/hello:pull" -u "$pull"
expect_code 400 "token for another service"
call GET "$base/v2/ferry/hello/manifests/v1" -H "Authorization: Bearer not-a-token"
expect_code 401 "an unknown token"
ok "tokens grant no more than the account has: 401 'unauthorized to access repository ...' with Basic realm=\"harbor\""

skopeo_copy "$push" pub/hello:v1 || fail "push to pub: $(cat "$skopeo_out")"
call GET "$realm?service=harbor-registry&scope=repository:pub/hello:pull,push"
anon=$(json 'd["token"]')
call HEAD "$base/v2/pub/hello/manifests/v1" -H "Authorization: Bearer $anon" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_code 200 "anonymous pull from a public project"
call POST "$base/v2/pub/hello/blobs/uploads/" -H "Authorization: Bearer $anon"
expect_code 401 "anonymous push to a public project"
call POST "$base/v2/pub/hello/blobs/uploads/"
expect_code 401 "push without any Authorization"
[[ "$(header WWW-Authenticate)" == *'scope="repository:pub/hello:pull,push"' ]] ||
  fail "push challenge $(header WWW-Authenticate)"
call GET "$base/v2/" -u "$pull"
expect_code 200 "GET /v2/ with Basic"
[[ "$(cat "$work/body")" == '{}' ]] || fail "/v2/ body"
call GET "$base/v2/"
expect_code 401 "GET /v2/ anonymously"
call GET "$base/v2/" -u 'robot$ferry-pull:wrong'
expect_code 401 "GET /v2/ with a wrong secret"
[[ "$(header WWW-Authenticate)" == 'Basic realm="harbor"' ]] || fail "/v2/ challenge"
call GET "$base/v2/_catalog" -u "$admin"
expect_code 200 "catalog as admin"
[[ "$(json '"ferry/hello" in d["repositories"]')" == True ]] || fail "catalog"
call GET "$base/v2/_catalog" -u "$push"
expect_code 401 "catalog as a robot"
ok "anonymous pull of public projects, Basic on /v2, /v2/ login check, catalog for admins only"

# ---- robots through the API -----------------------------------------------------------------
robot_body='{"name": "ferry-nodes", "level": "system", "duration": -1, "description": "nodes",
  "permissions": [{"kind": "project", "namespace": "ferry",
  "access": [{"resource": "repository", "action": "pull"}]}]}'
call POST "$base/api/v2.0/robots" -u "$push" -H 'Content-Type: application/json' -d "$robot_body"
expect_error 403 FORBIDDEN 'robot$ferry-push' "robot creation by a robot"
call POST "$base/api/v2.0/robots" -H 'Content-Type: application/json' -d "$robot_body"
expect_error 401 UNAUTHORIZED unauthorized "robot creation anonymously"
call POST "$base/api/v2.0/robots" -u "$admin" -H 'Content-Type: application/json' -d "$robot_body"
expect_code 201 "robot creation"
robot_id=$(json 'd["id"]')
[[ "$(json 'd["name"], d["expires_at"]')" == "('robot\$ferry-nodes', -1)" ]] || fail "robot: $(cat "$work/body")"
robot_secret=$(json 'd["secret"]')
secrets_seen+=("$robot_secret")
[[ ${#robot_secret} -ge 8 ]] || fail "short secret"
[[ "$(header Location)" == "/api/v2.0/robots/$robot_id" ]] || fail "robot Location"
! grep -qF "$robot_secret" "$dir/state.json" || fail "state.json holds the robot's secret"
[[ "$(json '[r["name"] for r in d["robots"]]' "$dir/state.json")" == "['robot\$ferry-nodes']" ]] ||
  fail "state.json robots"
call POST "$base/api/v2.0/robots" -u "$admin" -H 'Content-Type: application/json' -d "$robot_body"
expect_error 409 CONFLICT "robot account 0:ferry-nodes already exists" "robot twice"
call POST "$base/api/v2.0/robots" -u "$admin" -H 'Content-Type: application/json' -d '{"name": "Bad Name"}'
expect_error 400 BAD_REQUEST "robot name is not in lower case or contains illegal characters" "robot name"
call POST "$base/api/v2.0/robots" -u "$admin" -H 'Content-Type: application/json' -d '{"name": "x", "level": "system", "duration": -1, "permissions": []}'
expect_error 400 BAD_REQUEST "bad request empty permission" "robot without permissions"
call POST "$base/api/v2.0/robots" -u "$admin" -H 'Content-Type: application/json' -d '{"name": "x", "level": "system", "duration": -1, "permissions": [{"kind": "project", "namespace": "*", "access": [{"resource": "repository", "action": "fly"}]}]}'
expect_error 400 BAD_REQUEST "bad request permission: repository:fly" "robot with an unknown action"
call POST "$base/api/v2.0/robots" -u "$admin" -d 'not json'
expect_code 400 "robot with a broken body"
ok "POST /api/v2.0/robots: 201 robot\$ferry-nodes with a secret (not kept in clear), 403/401/409/400"

nodes="robot\$ferry-nodes:$robot_secret"
timeout 60 skopeo inspect --retry-times 0 --tls-verify=false --creds "$nodes" --raw \
  "docker://$host/ferry/hello:v1" >/dev/null 2>"$skopeo_out" ||
  fail "skopeo inspect with the new robot: $(cat "$skopeo_out")"
if skopeo_copy "$nodes" ferry/nodes:v1; then fail "a pull robot made through the API pushed"; fi
timeout 60 skopeo inspect --retry-times 0 --tls-verify=false --creds "$nodes" --raw \
  "docker://$host/pub/hello:v1" >/dev/null 2>&1 || fail "the new robot cannot read a public project"
call GET "$base/v2/made/x/tags/list" -u "$nodes"
expect_code 401 "the new robot on another private project"
ok "the returned secret works: robot\$ferry-nodes pulls from ferry, cannot push, nothing elsewhere"

call GET "$base/api/v2.0/robots?q=name%3Dferry-nodes" -u "$admin"
expect_code 200 "list robots"
[[ "$(json '[(r["id"], r["name"], "secret" in r) for r in d]')" == "[($robot_id, 'robot\$ferry-nodes', False)]" ]] ||
  fail "robot list: $(cat "$work/body")"
[[ "$(header X-Total-Count)" == 1 ]] || fail "robots X-Total-Count"
call GET "$base/api/v2.0/robots?q=name%3Dother" -u "$admin"
[[ "$(json 'len(d)')" == 0 ]] || fail "robot list by another name"
call GET "$base/api/v2.0/robots?q=name%3Dferry-nodes" -u "$push"
expect_code 403 "robot list by a robot"
call GET "$base/api/v2.0/robots/$robot_id" -u "$admin"
[[ "$(json 'd["permissions"][0]["namespace"]')" == ferry ]] || fail "GET robot"

call PATCH "$base/api/v2.0/robots/$robot_id" -u "$admin" -H 'Content-Type: application/json' \
  -d '{"secret": "NewSecret123"}'
expect_code 200 "set a robot secret"
secrets_seen+=('NewSecret123')
call GET "$realm?service=harbor-registry&scope=repository:ferry/hello:pull" -u "$nodes"
expect_code 401 "the old secret after a change"
call GET "$realm?service=harbor-registry&scope=repository:ferry/hello:pull" -u 'robot$ferry-nodes:NewSecret123'
expect_code 200 "the new secret"
call PATCH "$base/api/v2.0/robots/$robot_id" -u "$admin" -H 'Content-Type: application/json' -d '{"secret": "weak"}'
expect_error 400 BAD_REQUEST "the secret must be 8-128, inclusively, characters long with at least 1 uppercase letter, 1 lowercase letter and 1 number" "weak secret"
call PATCH "$base/api/v2.0/robots/$robot_id" -u "$admin"
expect_code 200 "refresh a robot secret"
fresh=$(json 'd["secret"]')
secrets_seen+=("$fresh")
call GET "$realm?service=harbor-registry&scope=repository:ferry/hello:pull" -u "robot\$ferry-nodes:$fresh"
expect_code 200 "the refreshed secret"
ok "GET /api/v2.0/robots?q=name=ferry-nodes lists it without secret; PATCH sets or refreshes the secret"

# ---- deleting manifests -------------------------------------------------------------------
skopeo_copy "$push" ferry/gone:v1 || fail "push ferry/gone: $(cat "$skopeo_out")"
call DELETE "$base/v2/ferry/gone/manifests/$manifest" -u "$push"
expect_error 401 UNAUTHORIZED \
  "unauthorized to access repository: ferry/gone, action: delete: unauthorized to access repository: ferry/gone, action: delete" \
  "delete without the delete right"
call DELETE "$base/v2/ferry/gone/manifests/$manifest"
expect_code 401 "delete without credentials"
[[ "$(header WWW-Authenticate)" == *'scope="repository:ferry/gone:delete"' ]] || fail "delete challenge"
call GET "$realm?service=harbor-registry&scope=repository:ferry/gone:*" -u "$push"
call DELETE "$base/v2/ferry/gone/manifests/$manifest" -H "Authorization: Bearer $(json 'd["token"]')"
expect_code 401 "delete with a * token of a robot without delete"
call DELETE "$base/v2/ferry/gone/manifests/v1" -u "$deleter"
expect_error 400 UNSUPPORTED "unsupported digest v1: invalid checksum digest format" "delete by tag"
call GET "$realm?service=harbor-registry&scope=repository:ferry/gone:delete" -u "$deleter"
call DELETE "$base/v2/ferry/gone/manifests/$manifest" -H "Authorization: Bearer $(json 'd["token"]')"
expect_code 202 "delete by digest with the delete right"
call GET "$base/v2/ferry/gone/manifests/$manifest" -u "$admin"
expect_code 404 "deleted manifest"
grep -q "DELETE /v2/ferry/gone/manifests/$manifest" "$reglog" || fail "the delete did not reach the registry"
ok "DELETE manifest by digest: 401 without delete right (Basic, token, *), 400 by tag, 202 with it"

# ---- referrers ----------------------------------------------------------------------------
upload_blob() { # REPO FILE CREDS: monolithic upload through the front
  call POST "$base/v2/$1/blobs/uploads/" -u "$3"
  expect_code 202 "start an upload to $1"
  local location
  location=$(header Location)
  [[ "$location" == "$base/v2/$1/blobs/uploads/"* ]] || fail "Location not rewritten: $location"
  call PUT "$location&digest=sha256:$(sha256 "$2")" -u "$3" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$2"
  expect_code 201 "finish the upload to $1"
}
printf '{}' >"$work/empty.json"
upload_blob ferry/hello "$work/empty.json" "$push"
printf '{"spdxVersion":"SPDX-2.3"}' >"$work/sbom.json"
upload_blob ferry/hello "$work/sbom.json" "$push"
referrer_manifest() { # ARTIFACT-TYPE
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"%s","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:%s","size":2},"layers":[{"mediaType":"application/spdx+json","digest":"sha256:%s","size":%d}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d},"annotations":{"org.example.kind":"%s"}}' \
    "$1" "$(sha256 "$work/empty.json")" "$(sha256 "$work/sbom.json")" "$(stat -c %s "$work/sbom.json")" \
    "$manifest" "$manifest_size" "$1"
}
referrer_manifest application/spdx+json >"$work/ref1.json"
ref1=sha256:$(sha256 "$work/ref1.json")
call PUT "$base/v2/ferry/hello/manifests/$ref1" -u "$push" \
  -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$work/ref1.json"
expect_code 201 "push a referrer by digest"
[[ -z "$(header OCI-Subject)" ]] || fail "OCI-Subject without the referrers flag"
call GET "$base/v2/ferry/hello/referrers/$manifest" -u "$pull"
expect_code 404 "referrers without the flag (the registry's answer)"
grep -q "GET /v2/ferry/hello/referrers/$manifest" "$reglog" || fail "referrers were not passed through"
ok "referrers flag off: passed through, the registry answers 404; no OCI-Subject"

touch "$dir/referrers"
call GET "$base/v2/ferry/hello/referrers/$manifest" -u "$pull"
expect_code 200 "referrers with the flag"
[[ "$(header Content-Type)" == application/vnd.oci.image.index.v1+json ]] || fail "referrers type $(header Content-Type)"
[[ "$(json 'd["schemaVersion"], d["mediaType"]')" == "(2, 'application/vnd.oci.image.index.v1+json')" ]] ||
  fail "referrers index: $(cat "$work/body")"
[[ "$(json '[(m["digest"], m["artifactType"], m["size"], m["annotations"]["org.example.kind"]) for m in d["manifests"]]')" == \
  "[('$ref1', 'application/spdx+json', $(stat -c %s "$work/ref1.json"), 'application/spdx+json')]" ]] ||
  fail "referrers: $(cat "$work/body")"
referrer_manifest application/vnd.example.sig >"$work/ref2.json"
ref2=sha256:$(sha256 "$work/ref2.json")
call PUT "$base/v2/ferry/hello/manifests/sig" -u "$push" \
  -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$work/ref2.json"
expect_code 201 "push a tagged referrer with the flag"
[[ "$(header OCI-Subject)" == "$manifest" ]] || fail "OCI-Subject: '$(header OCI-Subject)'"
call GET "$base/v2/ferry/hello/referrers/$manifest" -u "$pull"
[[ "$(json 'sorted(m["digest"] for m in d["manifests"])')" == "$("$python" -c 'import sys; print(sorted(sys.argv[1:]))' "$ref1" "$ref2")" ]] ||
  fail "two referrers: $(cat "$work/body")"
[[ "$(header X-Total-Count)" == 2 ]] || fail "referrers X-Total-Count"
call GET "$base/v2/ferry/hello/referrers/$manifest?artifactType=application/vnd.example.sig" -u "$pull"
[[ "$(json '[m["digest"] for m in d["manifests"]]')" == "['$ref2']" ]] || fail "filtered: $(cat "$work/body")"
[[ "$(header OCI-Filters-Applied)" == artifactType ]] || fail "OCI-Filters-Applied"
call GET "$base/v2/ferry/hello/referrers/$manifest?artifactType=application/none" -u "$pull"
[[ "$(json 'd["manifests"]')" == "[]" ]] || fail "filter without match"
call GET "$base/v2/ferry/hello/referrers/$ref1" -u "$pull"
[[ "$(json 'd["manifests"]')" == "[]" ]] || fail "referrers of a referrer"
call GET "$base/v2/ferry/hello/referrers/v1" -u "$pull"
expect_error 400 BAD_REQUEST "unsupported digest v1: invalid checksum digest format" "referrers of a tag"
call GET "$base/v2/ferry/hello/referrers/$manifest"
expect_code 401 "referrers anonymously"
rm "$dir/referrers"
ok "referrers flag on: an OCI index of the referrers (untagged too), artifactType filter, OCI-Subject on push"

# ---- large uploads stream -----------------------------------------------------------------
front_pid=$(cat "$dir/harbor.pid")
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$front_pid/status"; }
before=$(hwm)
head -c $((96 * 1024 * 1024)) /dev/urandom >"$work/big"
big=sha256:$(sha256 "$work/big")
call POST "$base/v2/ferry/big/blobs/uploads/" -u "$push"
location=$(header Location)
# from a pipe curl sends Transfer-Encoding: chunked
curl -s -g -o "$work/body" -D "$work/headers" -w '%{http_code}' -X PUT -u "$push" \
  -H 'Content-Type: application/octet-stream' -H 'Transfer-Encoding: chunked' -T - \
  "$location&digest=$big" <"$work/big" >"$work/code" || fail "chunked upload"
code=$(cat "$work/code")
expect_code 201 "chunked 96 MiB upload"
call HEAD "$base/v2/ferry/big/blobs/$big" -u "$pull"
expect_code 200 "the chunked blob is there"
[[ "$(header Content-Length)" == $((96 * 1024 * 1024)) ]] || fail "blob size $(header Content-Length)"
head -c $((96 * 1024 * 1024 - 1)) /dev/urandom >"$work/big2"
big2=sha256:$(sha256 "$work/big2")
call POST "$base/v2/ferry/big/blobs/uploads/" -u "$push"
call PATCH "$(header Location)" -u "$push" -H 'Content-Type: application/octet-stream' \
  --data-binary "@$work/big2"
expect_code 202 "96 MiB PATCH with Content-Length"
call PUT "$(header Location)&digest=$big2" -u "$push"
expect_code 201 "finish the PATCH upload"
curl -s -g -u "$pull" -o "$work/big2.back" "$base/v2/ferry/big/blobs/$big2" || fail "blob download"
cmp -s "$work/big2" "$work/big2.back" || fail "the downloaded blob differs"
after=$(hwm)
((after - before < 40 * 1024)) || fail "the front's peak memory grew from $before kB to $after kB"
rm -f "$work/big" "$work/big2" "$work/big2.back"
ok "96 MiB uploads (chunked, Content-Length) and a download stream: peak memory ${before} kB -> ${after} kB"

# ---- concurrency, persistence, the log ----------------------------------------------------
pids=()
for i in $(seq 1 12); do
  curl -s -o /dev/null -w '%{http_code}\n' -u "$admin" -H 'Content-Type: application/json' \
    -d "{\"project_name\": \"par$i\"}" "$base/api/v2.0/projects" >"$work/par$i" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
for i in $(seq 1 12); do [[ "$(cat "$work/par$i")" == 201 ]] || fail "parallel create par$i: $(cat "$work/par$i")"; done
[[ "$(json 'len(set(p["project_id"] for p in d["projects"])) == len(d["projects"]) and sum(p["name"].startswith("par") for p in d["projects"])' "$dir/state.json")" == 12 ]] ||
  fail "state.json after parallel creates"
ok "12 projects created at once: distinct ids, all in state.json"

"$standin" stop "$dir"
[[ ! -e "$dir/harbor.pid" ]] || fail "stop left harbor.pid"
kill -0 "$front_pid" 2>/dev/null && fail "the front still runs after stop"
"$standin" start "$dir" "$port" >/dev/null || fail "restart"
call HEAD "$base/api/v2.0/projects?project_name=made" -u "$admin"
expect_code 200 "project after a restart"
call GET "$realm?service=harbor-registry&scope=repository:ferry/hello:pull" -u "robot\$ferry-nodes:$fresh"
expect_code 200 "API robot after a restart"
call GET "$base/v2/ferry/hello/manifests/v1" -u "$pull" -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_code 200 "image after a restart"
call DELETE "$base/api/v2.0/robots/$robot_id" -u "$admin"
expect_code 200 "delete robot"
call GET "$realm?service=harbor-registry&scope=repository:ferry/hello:pull" -u "robot\$ferry-nodes:$fresh"
expect_code 401 "deleted robot"
ok "stop and start again: projects, robots and images kept; a deleted robot is refused"

for secret in "${secrets_seen[@]}"; do
  ! grep -qF -- "$secret" "$dir/requests.log" || fail "requests.log holds a secret"
  ! grep -qF -- "$secret" "$dir/harbor.log" || fail "harbor.log holds a secret"
done
awk 'NF != 4 { bad = 1 } END { exit bad }' "$dir/requests.log" || fail "requests.log lines are not METHOD PATH ACCOUNT STATUS"
grep -q "Traceback" "$dir/harbor.log" && fail "harbor.log has a traceback"
ok "requests.log: one 'METHOD PATH ACCOUNT STATUS' line per request, no password, secret or token"

# ---- HTTPS ----------------------------------------------------------------------------------
tport=$(free_port)
mkdir -p "$tlsdir"
cp "$dir/accounts.json" "$tlsdir/accounts.json"
printf '{"projects": [{"name": "ferry", "public": false}]}\n' >"$tlsdir/state.json"
thost=$("$standin" start "$tlsdir" "$tport" --tls) || fail "the stand-in did not start with --tls"
[[ -s "$tlsdir/ca.pem" ]] || fail "no ca.pem"
call GET "https://$thost/api/v2.0/systeminfo" --cacert "$tlsdir/ca.pem"
expect_code 200 "systeminfo over HTTPS"
[[ "$(json 'd["external_url"]')" == "https://$thost" ]] || fail "https external_url"
call GET "https://localhost:$tport/api/v2.0/systeminfo" --cacert "$tlsdir/ca.pem"
expect_code 200 "the certificate covers localhost"
call GET "https://$thost/v2/ferry/hello/manifests/v1" --cacert "$tlsdir/ca.pem"
[[ "$(header WWW-Authenticate)" == "Bearer realm=\"https://$thost/service/token\""* ]] || fail "https realm"
mkdir -p "$work/certs"
cp "$tlsdir/ca.pem" "$work/certs/ca.crt"
timeout 120 skopeo copy --retry-times 0 --dest-cert-dir "$work/certs" --dest-creds "$push" \
  "oci:$layout:v1" "docker://$thost/ferry/hello:v1" >"$skopeo_out" 2>&1 ||
  fail "skopeo push over HTTPS: $(cat "$skopeo_out")"
timeout 60 skopeo inspect --retry-times 0 --cert-dir "$work/certs" --creds "$pull" --raw \
  "docker://$thost/ferry/hello:v1" >"$work/inspected" 2>"$skopeo_out" || fail "inspect over HTTPS"
[[ "sha256:$(sha256 "$work/inspected")" == "$manifest" ]] || fail "manifest over HTTPS"
call POST "https://$thost/v2/ferry/hello/blobs/uploads/" --cacert "$tlsdir/ca.pem" -u "$push"
[[ "$(header Location)" == "https://$thost/v2/ferry/hello/blobs/uploads/"* ]] || fail "https Location $(header Location)"
"$standin" stop "$tlsdir"
ok "--tls: HTTPS with DIR/ca.pem for 127.0.0.1 and localhost; skopeo pushes and inspects"

echo "harbor-standin-check: $passed passed, 0 failed"
