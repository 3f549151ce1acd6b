#!/usr/bin/env python3
"""STAND-IN for the Harbor registry (Harbor itself cannot run on this machine).

Written for ferry's tests from Harbor's published v2.0 API (api/v2.0/swagger.yaml) and from
reading how Harbor v2.11 answers (its project, robot, token and /v2 middleware code); no Harbor
code is copied. It keeps to what a registry client such as ferry calls. Every byte of every
image is stored by a real CNCF distribution registry behind it (testdata/registry.sh starts
one, without auth, on 127.0.0.1); this front adds Harbor's projects, accounts, robot accounts,
token service and permission checks, and answers in Harbor's shapes.

Started by testdata/harbor-standin.sh (see there); by hand:
    harbor-standin.py --dir DIR --listen 127.0.0.1:PORT --upstream 127.0.0.1:RPORT
                      [--registry-data DIR/registry/data] [--tls-cert PEM --tls-key PEM]

Endpoints (anything else: 404 NOT_FOUND "path P was not found"; a known path with another
method: 405 METHOD_NOT_ALLOWED):
  GET  /api/v2.0/ping                       "Pong"
  GET  /api/v2.0/systeminfo                 anyone: harbor_version "v2.11.0-standin", auth_mode
                                            "db_auth", registry_url "127.0.0.1:PORT",
                                            external_url, with_chartmuseum false, ...
                                            (Harbor 2.11 shows registry_url/external_url to
                                            signed-in callers only; here everyone sees them)
  HEAD /api/v2.0/projects?project_name=N    200 exists / 404; 401 without credentials
  GET  /api/v2.0/projects?name=&public=&page=&page_size=
                                            projects the caller may see (name: substring),
                                            sorted by name; X-Total-Count and Link headers;
                                            page_size is capped at 100
  POST /api/v2.0/projects                   {"project_name", "metadata": {"public": "true"|
                                            "false"}, "public": bool} -> 201, Location
                                            /api/v2.0/projects/ID (the name if the request
                                            has X-Resource-Name-In-Location: true)
  GET  /api/v2.0/projects/{name_or_id}      project JSON (project_id, name, metadata.public,
                                            creation_time, repo_count counted from the
                                            registry's catalog, owner_id, owner_name, ...)
  DELETE /api/v2.0/projects/{name_or_id}    200; admin only (no 412 for non-empty projects)
  POST /api/v2.0/robots                     Harbor 2.x robot body -> 201 {"id","name":
                                            "robot$NAME","secret","creation_time","expires_at"}
                                            (level "project": "robot$PROJECT+NAME")
  GET  /api/v2.0/robots?q=name%3DNAME       robots made through the API (no secrets); q takes
                                            name=V, name=~V (substring), Level=, ProjectID=;
                                            without Level: system robots, as Harbor
  GET  /api/v2.0/robots/{id}
  DELETE /api/v2.0/robots/{id}              admin only
  PATCH /api/v2.0/robots/{id}               {"secret": "NEW"} -> 200 {}; empty body or secret ->
                                            200 {"secret": "<generated>"}; admin only
  GET  /service/token?service=harbor-registry&scope=...
                                            {"token","access_token","expires_in":1800,
                                            "issued_at"}; POST gets 405 as from Harbor
  *    /v2/...                              proxied to the registry after Harbor's checks

Choices, with the exact answers (errors are {"errors":[{"code":C,"message":M}]}):
  * API without (valid) credentials where they are needed: 401 UNAUTHORIZED "unauthorized".
    Wrong credentials on the API count as none (Harbor does the same); on the token service
    they are refused with 401, and on /v2 they count as none.
  * Project name rule, as Harbor's project manager: regex ^[a-z0-9]+(?:[._-][a-z0-9]+)*$ and
    length 1..255. Refusals: 400 BAD_REQUEST "project name is not in lower case or contains
    illegal characters", or "Project name N is illegal in length. (greater than 255 or less
    than 1)". metadata.public other than "true"/"false": 400 "metadata.public should only be
    'true' or 'false', but got: 'X'". Existing name: 409 CONFLICT "The project named N already
    exists".
  * May not create projects: 403 FORBIDDEN "Only system admin can create project" (Harbor's
    text with project creation restricted to admins); for a project-level robot: "Only system
    level robot can create project". Accounts with create_projects may create; a non-robot
    creator becomes the project's owner (full rights on it), as in Harbor.
  * Project access: admin sees and may do everything; otherwise the account's permissions on
    the project or on "*", plus pull on public projects (anonymous too). GET of a project:
    404 NOT_FOUND "project N not found" (or "project ID not found") for callers who could see
    it, 401 UNAUTHORIZED "unauthorized" for anonymous callers, 403 FORBIDDEN "forbidden" for
    accounts with no right on it - also when it does not exist and the caller has no "*"
    permission, because Harbor checks access before existence.
  * Robot API is admin only: others get 403 FORBIDDEN with the caller's name as the message
    (this is what Harbor sends). Refusals as Harbor words them: "robot name is not in lower
    case or contains illegal characters", "bad request error duration input: D, duration must
    be either -1(Never) or a positive integer", "bad request error level input: L", "bad
    request empty permission", "bad request empty access", "bad request permission: R:A",
    "bad request permission level: K"; 409 CONFLICT "robot account PID:NAME already exists"
    (PID 0 for system robots); 404 "robot ID not found"; a weak new secret: 400 "the secret
    must be 8-128, inclusively, characters long with at least 1 uppercase letter, 1 lowercase
    letter and 1 number". Robot rights come from access items with resource "repository" and
    action pull, push or delete (each gives exactly that right; "*" namespace: all projects);
    a "system" permission with project:create gives create_projects.
  * Token service: the token is an opaque random string (Harbor issues JWTs; clients treat
    tokens as opaque) kept in memory for 1800 s. Each scope grants the intersection of the
    requested actions and the account's rights ("*" means pull,push,delete; anonymous: pull
    on public projects; registry:catalog:* for admins only). Harbor itself grants all of the
    account's rights on the repository; the intersection is stricter, so a client that asks
    for too little scope is caught here. Unknown service: 400 "Unable to handle service: S"
    (text). Wrong credentials: 401. No credentials and no scope: 401.
  * /v2, in Harbor's order:
      - repository name without a project segment (/v2/nginx/manifests/1): 400 BAD_REQUEST
        "bad request: invalid repository name: nginx" (Harbor's artifactinfo middleware; the
        same for a blob mount's from=); a manifest reference that is neither tag nor digest:
        404 NOT_FOUND "invalid reference format". Both before any credential check.
      - GET/HEAD without Authorization: 401 (before the project is looked up, as in Harbor:
        clients then fetch a token and ask again), WWW-Authenticate Bearer realm=
        "BASE/service/token",service="harbor-registry",scope="repository:NAME:pull" (the
        Bearer challenge; pull,push for POST/PUT/PATCH,
        delete for DELETE; a blob mount adds the source's pull scope), message "authorize
        header needed to send HEAD to repository: ..." (Harbor's wording, for GET too).
      - project missing (of the repository, or of a blob mount's source): 404 NOT_FOUND
        "project NAME not found", what ferry's tests asked this stand-in for. Real
        Harbor (2.0 to 2.11) sends 401 UNAUTHORIZED "project NAME not found: project NAME not
        found" from its v2auth middleware, with an empty WWW-Authenticate; create the flag file
        DIR/missing-project-401 to get exactly that instead.
      - insufficient rights: 401 UNAUTHORIZED "unauthorized to access repository: NAME, action:
        ACTION: unauthorized to access repository: NAME, action: ACTION" (Harbor repeats it),
        challenge Basic realm="harbor" when the request had an Authorization header (Harbor's
        choice), else the Bearer challenge above.
      - GET /v2/: 200 {} (from the registry) for any signed-in caller (Basic or a token issued
        to an account), else 401 with the Bearer challenge without scope (Basic realm="harbor"
        if an Authorization header was sent).
      - GET /v2/_catalog: admins only (Basic, or a token with registry:catalog:*), proxied; else
        401 "unauthorized to list catalog: ..." with Basic realm="harbor".
      - DELETE of a manifest needs the delete right; by tag: 400 UNSUPPORTED "unsupported
        digest TAG: invalid checksum digest format" (Harbor deletes by digest only).
      - GET /v2/NAME/referrers/DIGEST: proxied (the registry answers 404, like Harbor < 2.8)
        unless the flag file DIR/referrers exists; then answered as Harbor 2.8+: an OCI image
        index (application/vnd.oci.image.index.v1+json) of the manifests in NAME whose subject
        is DIGEST, found among the registry's manifest revisions (its storage directory) and
        tags; ?artifactType= filters (header OCI-Filters-Applied: artifactType); X-Total-Count;
        a non-digest reference: 400 BAD_REQUEST "unsupported digest R: invalid checksum digest
        format". With the flag, a manifest PUT whose manifest has a subject also gets the
        OCI-Subject response header, as Harbor 2.8+ sends.
      - everything else under a repository is proxied: bodies stream both ways in 64 KiB
        pieces (Content-Length or chunked requests), status, headers and body pass back, and
        Location headers that point at the registry are rewritten to this front's address.
      - a path that matches no registry route: 401 "un-recognized request: METHOD PATH: ...".

How tests control it (all files in DIR):
  accounts.json  [{"name": "admin", "password": "...", "admin": true},
                  {"name": "robot$ferry-push", "password": "...", "create_projects": false,
                   "permissions": {"*": ["pull", "push"], "PROJECT": ["delete"]}}, ...]
                 read at start and again whenever the file changes (a broken file met at
                 run time is logged and the accounts read before are kept).
  state.json     {"projects": [{"name", "public", "project_id", "creation_time", "owner"}],
                  "robots": [{"id", "name": "robot$NAME", "level", "permissions" (Harbor's
                  shape), "salt", "secret_sha256", ...}]}
                 written on every change, read at start and whenever another writer changes
                 it; tests may pre-create projects with just {"name": N, "public": B}, and
                 robots with {"id", "name": "robot$N", "secret": S, "permissions": [...]} (the
                 clear secret is replaced by its salted hash when the file is next written).
                 Missing: Harbor's default public project "library" (id 1) is created.
  referrers      flag file: answer the referrers API (see above).
  missing-project-401
                 flag file: answer a missing project as real Harbor does (see above).
  requests.log   one line per request: METHOD PATH?QUERY ACCOUNT-or-- STATUS (the account a
                 Bearer token was issued to counts as the caller; a request whose sender went
                 away mid-body is logged with 400). Credentials, secrets and tokens are never
                 logged (they never appear in paths). harbor.log: the server's own log;
                 kill -USR1 PID dumps every thread's stack into it.
"""

import argparse
import base64
import binascii
import datetime
import faulthandler
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import signal
import socket
import ssl
import string
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HARBOR_VERSION = "v2.11.0-standin"
SERVICE = "harbor-registry"
TOKEN_TTL = 1800
PIECE = 64 * 1024
MAX_API_BODY = 1 << 20
MAX_MANIFEST_COPY = 4 << 20
ACTIONS = ("pull", "push", "delete")
ROBOT_PREFIX = "robot$"

PROJECT_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
ROBOT_NAME_RE = PROJECT_NAME_RE
# Repository names as the distribution reference grammar has them (Harbor matches /v2 routes
# with it): an optional host part, then lower-case path components. The grammar's separator
# [-]* is written -+ here: the same names, without the nested repetition that makes Python's
# backtracking matcher take exponential time on long paths (Go's matcher is linear).
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*(?::[0-9]+)?"
_NAME = r"(?:" + _DOMAIN + r"/)?" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
DIGEST_RE = re.compile(r"^" + _DIGEST + r"$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
V2_ROUTES = (
    ("manifest", re.compile(r"^/v2/(?P<repo>" + _NAME + r")/manifests/(?P<ref>.*)$")),
    ("tags", re.compile(r"^/v2/(?P<repo>" + _NAME + r")/tags/list")),
    ("upload", re.compile(r"^/v2/(?P<repo>" + _NAME + r")/blobs/uploads[/a-zA-Z0-9\-_.=]*$")),
    ("blob", re.compile(r"^/v2/(?P<repo>" + _NAME + r")/blobs/(?P<digest>" + _DIGEST + r")$")),
    ("referrers", re.compile(r"^/v2/(?P<repo>" + _NAME + r")/referrers/(?P<ref>.*)$")),
)
CATALOG_RE = re.compile(r"^/v2/_catalog(/.*)?$")
METHOD_ACTION = {"GET": "pull", "HEAD": "pull", "POST": "push", "PUT": "push",
                 "PATCH": "push", "DELETE": "delete"}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"}
MANIFEST_ACCEPT = ", ".join((
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.artifact.manifest.v1+json",
))

# The access items Harbor 2.11 accepts in a robot's permissions (its rbac PoliciesMap).
_PROJECT_POLICIES = {
    "log": "list", "project": "read delete update",
    "metadata": "read create delete list update",
    "repository": "read update delete list pull push",
    "artifact": "read create list delete", "scan": "create read stop",
    "sbom": "create stop read", "tag": "create list delete", "accessory": "list",
    "artifact-addition": "read", "artifact-label": "create delete", "scanner": "create read",
    "preheat-policy": "read create delete list update",
    "immutable-tag": "create delete list update",
    "notification-policy": "read create delete list update",
    "tag-retention": "read create delete list update",
    "label": "read create delete list update", "quota": "read",
}
_SYSTEM_POLICIES = {
    "audit-log": "list", "preheat-instance": "read create delete list update",
    "project": "list create", "replication-policy": "read create delete list update",
    "replication": "read create list", "replication-adapter": "list",
    "registry": "read create delete list update", "scan-all": "read update stop create",
    "system-volumes": "read", "garbage-collection": "read create list update stop",
    "purge-audit": "read create list update stop", "jobservice-monitor": "list stop",
    "scanner": "read create delete list update", "label": "read create delete update",
    "security-hub": "read list", "catalog": "read", "quota": "read list",
}
POLICIES = {
    "project": {(r, a) for r, acts in _PROJECT_POLICIES.items() for a in acts.split()},
    "system": {(r, a) for r, acts in _SYSTEM_POLICIES.items() for a in acts.split()},
}


class ApiError(Exception):
    """An answer in Harbor's error shape."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class BadBody(Exception):
    """A request body that cannot be read (broken chunked framing, too large)."""


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def harbor_time(moment=None):
    """Times as Harbor's API writes them (go-openapi strfmt.DateTime)."""
    moment = moment or now_utc()
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def rfc3339(moment=None):
    moment = moment or now_utc()
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def random_secret():
    """A robot secret as Harbor makes them: 32 letters and digits, all three classes."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(32))
        if valid_secret(candidate):
            return candidate


def valid_secret(value):
    return (8 <= len(value) <= 128 and re.search(r"[a-z]", value) is not None
            and re.search(r"[A-Z]", value) is not None and re.search(r"\d", value) is not None)


def hash_secret(secret, salt):
    return hashlib.sha256((salt + secret).encode("utf-8")).hexdigest()


def doubled(message):
    """Harbor's v2auth wraps an error in another with the same text: "M: M"."""
    return "%s: %s" % (message, message)


class Store:
    """Accounts, projects, robots and tokens, behind one lock; files re-read when changed."""

    def __init__(self, directory):
        self.dir = directory
        self.accounts_path = os.path.join(directory, "accounts.json")
        self.state_path = os.path.join(directory, "state.json")
        self.lock = threading.RLock()
        self.accounts = []
        self.accounts_stamp = None
        self.projects = []
        self.robots = []
        self.state_stamp = None
        self.tokens = {}
        self.load_accounts(strict=True)
        self.load_state(strict=True)

    # ---- files -------------------------------------------------------------------------
    @staticmethod
    def _stamp(path):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def load_accounts(self, strict=False):
        stamp = self._stamp(self.accounts_path)
        try:
            if stamp is None:
                raise ValueError("%s is missing" % self.accounts_path)
            with open(self.accounts_path, encoding="utf-8") as f:
                raw = json.load(f)
            if isinstance(raw, dict):
                raw = raw.get("accounts")
            if not isinstance(raw, list):
                raise ValueError("accounts.json must hold a list of accounts")
            accounts = []
            seen = set()
            for index, entry in enumerate(raw):
                account = self._account_from_file(entry, index)
                if account["name"] in seen:
                    raise ValueError("account %s is listed twice" % account["name"])
                seen.add(account["name"])
                accounts.append(account)
        except (OSError, ValueError) as exc:
            if strict:
                raise SystemExit("harbor-standin: bad accounts file: %s" % exc)
            log("accounts.json not reloaded: %s" % exc)
            self.accounts_stamp = stamp
            return
        self.accounts = accounts
        self.accounts_stamp = stamp

    @staticmethod
    def _account_from_file(entry, index):
        if not isinstance(entry, dict):
            raise ValueError("account %d is not an object" % index)
        name = entry.get("name")
        password = entry.get("password", "")
        if not isinstance(name, str) or not name or ":" in name:
            raise ValueError("account %d needs a name without ':'" % index)
        if not isinstance(password, str):
            raise ValueError("account %s: password must be a string" % name)
        permissions = {}
        raw_permissions = entry.get("permissions") or {}
        if not isinstance(raw_permissions, dict):
            raise ValueError("account %s: permissions must map project or * to actions" % name)
        for project, actions in raw_permissions.items():
            if not isinstance(actions, list) or any(a not in ACTIONS for a in actions):
                raise ValueError("account %s: permissions of %s must be a list of pull, push, "
                                 "delete" % (name, project))
            permissions[project] = set(actions)
        return {
            "name": name,
            "password": password,
            "admin": bool(entry.get("admin", False)),
            "create_projects": bool(entry.get("create_projects", False)),
            "permissions": permissions,
            "robot": name.startswith(ROBOT_PREFIX),
            "level": "system",
            "user_id": index + 1,
            "expires_at": -1,
        }

    def load_state(self, strict=False):
        stamp = self._stamp(self.state_path)
        if stamp is None:
            self.projects = [{"project_id": 1, "name": "library", "public": True,
                              "creation_time": harbor_time(), "owner": "admin"}]
            self.robots = []
            self.save_state()
            return
        try:
            with open(self.state_path, encoding="utf-8") as f:
                raw = json.load(f)
            if not isinstance(raw, dict):
                raise ValueError("state.json must hold an object")
            projects = self._projects_from_state(raw.get("projects") or [])
            robots = self._robots_from_state(raw.get("robots") or [])
        except (OSError, ValueError) as exc:
            if strict:
                raise SystemExit("harbor-standin: bad state file: %s" % exc)
            log("state.json not reloaded: %s" % exc)
            self.state_stamp = stamp
            return
        self.projects = projects
        self.robots = robots
        self.state_stamp = stamp

    @staticmethod
    def _projects_from_state(raw):
        if not isinstance(raw, list):
            raise ValueError("projects must be a list")
        projects = []
        next_id = max([p.get("project_id", 0) for p in raw if isinstance(p, dict)
                       and isinstance(p.get("project_id"), int)] + [0]) + 1
        for entry in raw:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ValueError("every project needs a name")
            project = dict(entry)
            if not isinstance(project.get("project_id"), int):
                project["project_id"] = next_id
                next_id += 1
            project["public"] = bool(project.get("public", False))
            project.setdefault("creation_time", harbor_time())
            project.setdefault("owner", "admin")
            projects.append(project)
        return projects

    @staticmethod
    def _robots_from_state(raw):
        if not isinstance(raw, list):
            raise ValueError("robots must be a list")
        robots = []
        for entry in raw:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) \
                    or not isinstance(entry.get("id"), int):
                raise ValueError("every robot needs an id and a name")
            robot = dict(entry)
            if "secret" in robot:  # a test wrote the secret in clear: keep only its hash
                robot["salt"] = secrets.token_hex(16)
                robot["secret_sha256"] = hash_secret(str(robot.pop("secret")), robot["salt"])
            robot.setdefault("level", "system")
            robot.setdefault("project_id", 0)
            robot.setdefault("permissions", [])
            robot.setdefault("expires_at", -1)
            robot.setdefault("duration", -1)
            robot.setdefault("description", "")
            robot.setdefault("creation_time", harbor_time())
            robot.setdefault("update_time", robot["creation_time"])
            robots.append(robot)
        return robots

    def save_state(self):
        data = {"projects": self.projects, "robots": self.robots}
        tmp = "%s.tmp.%d" % (self.state_path, os.getpid())
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.state_path)
        self.state_stamp = self._stamp(self.state_path)

    def refresh(self):
        """Re-read a file another writer (a test) changed since we last read or wrote it."""
        with self.lock:
            if self._stamp(self.accounts_path) != self.accounts_stamp:
                self.load_accounts()
            if self._stamp(self.state_path) != self.state_stamp:
                self.load_state()

    # ---- accounts ----------------------------------------------------------------------
    def _robot_account(self, robot):
        permissions = {}
        create_projects = False
        for perm in robot.get("permissions") or []:
            if not isinstance(perm, dict):
                continue
            for item in perm.get("access") or []:
                if not isinstance(item, dict):
                    continue
                resource, action = item.get("resource"), item.get("action")
                if perm.get("kind") == "project" and resource == "repository" \
                        and action in ACTIONS:
                    permissions.setdefault(perm.get("namespace"), set()).add(action)
                if perm.get("kind") == "system" and (resource, action) == ("project", "create"):
                    create_projects = True
        return {
            "name": robot["name"],
            "salt": robot.get("salt", ""),
            "secret_sha256": robot.get("secret_sha256", ""),
            "admin": False,
            "create_projects": create_projects,
            "permissions": permissions,
            "robot": True,
            "level": robot.get("level", "system"),
            "user_id": None,
            "expires_at": robot.get("expires_at", -1),
        }

    def find_account(self, name):
        with self.lock:
            for account in self.accounts:
                if account["name"] == name:
                    return account
            for robot in self.robots:
                if robot["name"] == name:
                    return self._robot_account(robot)
        return None

    def authenticate(self, name, password):
        account = self.find_account(name)
        if account is None:
            return None
        if "password" in account:
            ok = hmac.compare_digest(password.encode("utf-8"),
                                     account["password"].encode("utf-8"))
        else:
            ok = hmac.compare_digest(hash_secret(password, account["salt"]),
                                     account["secret_sha256"])
        if not ok:
            return None
        if account["expires_at"] not in (-1, None) and account["expires_at"] < time.time():
            return None
        return account

    # ---- projects ----------------------------------------------------------------------
    def project_by_name(self, name):
        with self.lock:
            for project in self.projects:
                if project["name"] == name:
                    return dict(project)
        return None

    def project_by_id(self, project_id):
        with self.lock:
            for project in self.projects:
                if project["project_id"] == project_id:
                    return dict(project)
        return None

    @staticmethod
    def rights(account, project):
        """The actions of pull, push, delete that ACCOUNT (None: anonymous) has on PROJECT."""
        actions = set()
        if project.get("public"):
            actions.add("pull")
        if account is None:
            return actions
        if account["admin"]:
            return set(ACTIONS)
        actions |= account["permissions"].get("*", set())
        actions |= account["permissions"].get(project["name"], set())
        if not account["robot"] and project.get("owner") == account["name"]:
            actions |= set(ACTIONS)
        return actions

    # ---- tokens ------------------------------------------------------------------------
    def issue_token(self, account, grants):
        token = secrets.token_urlsafe(32)
        with self.lock:
            moment = time.time()
            for stale in [t for t, v in self.tokens.items() if v["expires"] < moment]:
                del self.tokens[stale]
            self.tokens[token] = {"account": account["name"] if account else None,
                                  "admin": bool(account and account["admin"]),
                                  "grants": grants, "expires": moment + TOKEN_TTL}
        return token

    def token(self, value):
        with self.lock:
            entry = self.tokens.get(value)
            if entry is None or entry["expires"] < time.time():
                return None
            return entry


LOG_LOCK = threading.Lock()


def log(message):
    with LOG_LOCK:
        sys.stderr.write("%s %s\n" % (rfc3339(), message))
        sys.stderr.flush()


class Caller:
    """Who sent a request: account (None: anonymous), and how."""

    def __init__(self):
        self.account = None
        self.token = None  # the token entry for a valid Bearer token
        self.header = False  # an Authorization header was sent
        self.basic_failed = False  # Basic credentials were sent and are wrong

    @property
    def name(self):
        if self.account is not None:
            return self.account["name"]
        if self.token is not None and self.token["account"]:
            return self.token["account"]
        return "-"

    @property
    def signed_in(self):
        return self.account is not None or (self.token is not None
                                            and self.token["account"] is not None)


class Front(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, options, store):
        self.options = options
        self.store = store
        self.requests_lock = threading.Lock()
        self.requests_log = os.path.join(options.dir, "requests.log")
        self.upstream_host, _, port = options.upstream.rpartition(":")
        self.upstream_port = int(port)
        self.upstream_prefixes = ("http://%s" % options.upstream,
                                  "http://localhost:%d" % self.upstream_port)
        self.scheme = "https" if options.tls_cert else "http"
        self.base = "%s://%s" % (self.scheme, options.listen)
        super().__init__(address, Handler)
        if options.tls_cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(options.tls_cert, options.tls_key)
            # The handshake happens on the first read, in the connection's own thread.
            self.socket = context.wrap_socket(self.socket, server_side=True,
                                              do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        # A connection that failed outside a request (a TLS handshake, a reset): one line.
        log("connection from %s failed: %s" % (client_address[0], sys.exc_info()[1]))

    def flag(self, name):
        return os.path.exists(os.path.join(self.options.dir, name))

    def record(self, method, target, account, status):
        line = "%s %s %s %s\n" % (method, target, account or "-", status)
        with self.requests_lock:
            with open(self.requests_log, "a", encoding="utf-8") as f:
                f.write(line)

    def upstream(self, timeout=600):
        return http.client.HTTPConnection(self.upstream_host, self.upstream_port,
                                          timeout=timeout)

    def upstream_json(self, path, accept=None):
        """GET PATH from the registry: (status, headers, parsed JSON or None, raw body)."""
        conn = self.upstream(timeout=60)
        try:
            headers = {"Accept": accept} if accept else {}
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read(MAX_MANIFEST_COPY + 1)
            try:
                parsed = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                parsed = None
            return resp.status, resp.headers, parsed, body
        finally:
            conn.close()

    def catalog(self):
        """Every repository name in the registry (empty if it cannot be asked)."""
        names = []
        path = "/v2/_catalog?n=1000"
        try:
            for _ in range(1000):
                status, headers, parsed, _ = self.upstream_json(path)
                if status != 200 or not isinstance(parsed, dict):
                    break
                names.extend(r for r in parsed.get("repositories") or [] if isinstance(r, str))
                link = headers.get("Link")
                match = re.match(r"<([^>]+)>", link or "")
                if not match:
                    break
                path = match.group(1)
                if path.startswith("http"):
                    parsed_url = urllib.parse.urlsplit(path)
                    path = parsed_url.path + ("?" + parsed_url.query if parsed_url.query else "")
        except (OSError, http.client.HTTPException) as exc:
            log("catalog not read: %s" % exc)
        return names


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "harbor-standin"
    timeout = 300

    # ---- plumbing ----------------------------------------------------------------------
    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()  # here, in this connection's thread

    def log_message(self, format, *args):  # noqa: A002 - the base class names it so
        log("%s %s" % (self.address_string(), format % args))

    def log_request(self, code="-", size="-"):
        pass  # requests.log gets one line per request instead

    def send_response(self, code, message=None):
        self._status = code
        super().send_response(code, message)

    def _dispatch(self):
        self._status = None
        self._headers_sent = False
        self._body_read = False
        self._caller = Caller()
        started = time.time()
        try:
            self.server.store.refresh()
            self.route()
        except ApiError as err:
            self.send_error_json(err)
        except BadBody as exc:
            self.close_connection = True
            if not self._headers_sent:
                try:
                    self.send_error_json(ApiError(400, "BAD_REQUEST", str(exc)))
                except OSError:
                    pass
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout) as exc:
            log("%s %s: connection lost: %s" % (self.command, self.path, exc))
            self.close_connection = True
            if self._status is None:
                self._status = 499
        except Exception:  # never a traceback to the client
            log("%s %s failed:\n%s" % (self.command, self.path, traceback.format_exc()))
            self.close_connection = True
            if not self._headers_sent:
                try:
                    self.send_error_json(ApiError(500, "UNKNOWN", "internal server error"))
                except OSError:
                    pass
        finally:
            self.server.record(self.command, self.path, self._caller.name,
                               self._status if self._status is not None else "-")
            log("%s %s %s %s %.3fs" % (self.command, self.path, self._caller.name,
                                      self._status, time.time() - started))

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def has_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return True
        try:
            return int(self.headers.get("Content-Length") or 0) > 0
        except ValueError:
            return True

    def content_length(self):
        raw = self.headers.get("Content-Length")
        if raw is None:
            return 0
        try:
            value = int(raw)
        except ValueError:
            raise BadBody("invalid Content-Length")
        if value < 0:
            raise BadBody("invalid Content-Length")
        return value

    def body_pieces(self):
        """The request body in pieces, de-chunked if need be; each byte read once."""
        self._body_read = True
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line.endswith(b"\n"):
                    raise BadBody("broken chunked request body")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadBody("broken chunked request body")
                if size == 0:
                    while True:  # trailers, up to the empty line
                        trailer = self.rfile.readline(8192)
                        if trailer in (b"\r\n", b"\n", b""):
                            return
                while size > 0:
                    data = self.rfile.read(min(size, PIECE))
                    if not data:
                        raise BadBody("request body ended early")
                    size -= len(data)
                    yield data
                if self.rfile.readline(8) not in (b"\r\n", b"\n"):
                    raise BadBody("broken chunked request body")
        else:
            left = self.content_length()
            while left > 0:
                data = self.rfile.read(min(left, PIECE))
                if not data:
                    raise BadBody("request body ended early")
                left -= len(data)
                yield data

    def read_body(self, limit=MAX_API_BODY):
        parts = []
        size = 0
        for piece in self.body_pieces():
            size += len(piece)
            if size > limit:
                self.close_connection = True
                raise BadBody("request body too large")
            parts.append(piece)
        return b"".join(parts)

    def json_body(self, what):
        raw = self.read_body()
        if not raw.strip():
            return None
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "BAD_REQUEST",
                           'parsing %s body from "" failed, because %s' % (what, exc))
        if not isinstance(value, dict):
            raise ApiError(400, "BAD_REQUEST", 'parsing %s body from "" failed, because '
                           'the body is not a JSON object' % what)
        return value

    def start(self, status, headers):
        """Send the status line and headers; an unread request body closes the connection."""
        if not self._body_read and self.has_body():
            self.close_connection = True
            headers = list(headers) + [("Connection", "close")]
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self._headers_sent = True

    def send_bytes(self, status, body, content_type, headers=()):
        all_headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        all_headers.extend(headers)
        self.start(status, all_headers)
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(self, status, value, headers=(), content_type="application/json"):
        body = json.dumps(value).encode("utf-8")
        self.send_bytes(status, body, content_type, headers)

    def send_error_json(self, err):
        body = json.dumps({"errors": [{"code": err.code, "message": err.message}]}) + "\n"
        self.send_bytes(err.status, body.encode("utf-8"), "application/json; charset=utf-8",
                        list(err.headers.items()))

    # ---- who is calling ----------------------------------------------------------------
    def identify(self, bearer_ok):
        caller = self._caller
        header = self.headers.get("Authorization")
        if not header:
            return caller
        caller.header = True
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                decoded = None
            if decoded is None or ":" not in decoded:
                caller.basic_failed = True
                return caller
            name, _, password = decoded.partition(":")
            caller.account = self.server.store.authenticate(name, password)
            caller.basic_failed = caller.account is None
        elif scheme.lower() == "bearer" and bearer_ok:
            caller.token = self.server.store.token(value)
        return caller

    # ---- routing -----------------------------------------------------------------------
    def route(self):
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        if path == "/v2" or path.startswith("/v2/"):
            return self.v2(path, query)
        if path == "/service/token":
            return self.token_service(query)
        if path.startswith("/api/v2.0/"):
            return self.api(path[len("/api/v2.0"):], query)
        raise ApiError(404, "NOT_FOUND", "path %s was not found" % path)

    def api(self, path, query):
        caller = self.identify(bearer_ok=False)
        method = self.command
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        routes = []  # (allowed methods, handler) for the path

        if parts == ["ping"]:
            routes = [("GET HEAD", lambda: self.send_bytes(200, b"Pong", "text/plain"))]
        elif parts == ["systeminfo"]:
            routes = [("GET HEAD", lambda: self.systeminfo(caller))]
        elif parts == ["projects"]:
            routes = [("HEAD", lambda: self.head_project(caller, query)),
                      ("GET", lambda: self.list_projects(caller, query)),
                      ("POST", lambda: self.create_project(caller))]
        elif len(parts) == 2 and parts[0] == "projects" and parts[1]:
            routes = [("GET", lambda: self.get_project(caller, parts[1])),
                      ("DELETE", lambda: self.delete_project(caller, parts[1]))]
        elif parts == ["robots"]:
            routes = [("GET", lambda: self.list_robots(caller, query)),
                      ("POST", lambda: self.create_robot(caller))]
        elif len(parts) == 2 and parts[0] == "robots" and parts[1]:
            routes = [("GET", lambda: self.get_robot(caller, parts[1])),
                      ("DELETE", lambda: self.delete_robot(caller, parts[1])),
                      ("PATCH", lambda: self.refresh_robot_secret(caller, parts[1]))]
        if not routes:
            raise ApiError(404, "NOT_FOUND", "path /api/v2.0%s was not found" % path)
        for methods, handler in routes:
            if method in methods.split():
                return handler()
        allowed = sorted({m for methods, _ in routes for m in methods.split()})
        raise ApiError(405, "METHOD_NOT_ALLOWED", "method %s is not allowed, but [%s] are"
                       % (method, ",".join(allowed)), {"Allow": ", ".join(allowed)})

    # ---- API: system -------------------------------------------------------------------
    def systeminfo(self, caller):
        self.send_json(200, {
            "auth_mode": "db_auth",
            "primary_auth_mode": False,
            "self_registration": False,
            "harbor_version": HARBOR_VERSION,
            "banner_message": "",
            "oidc_provider_name": "",
            "has_ca_root": bool(self.server.options.tls_cert),
            "project_creation_restriction": "adminonly",
            "external_url": self.server.base,
            "registry_url": self.server.options.listen,
            "read_only": False,
            "registry_storage_provider_name": "filesystem",
            "notification_enable": True,
            "with_notary": False,
            "with_chartmuseum": False,
            "current_time": harbor_time(),
        })

    # ---- API: projects -----------------------------------------------------------------
    @staticmethod
    def require_signed_in(caller):
        if caller.account is None:
            raise ApiError(401, "UNAUTHORIZED", "unauthorized")

    def project_json(self, project, repo_count=None):
        if repo_count is None:
            prefix = project["name"] + "/"
            repo_count = sum(1 for r in self.server.catalog() if r.startswith(prefix))
        owner = self.server.store.find_account(project.get("owner", "admin"))
        owner_id = owner["user_id"] if owner and owner.get("user_id") else 1
        return {
            "project_id": project["project_id"],
            "owner_id": owner_id,
            "owner_name": project.get("owner", "admin"),
            "name": project["name"],
            "registry_id": 0,
            "creation_time": project["creation_time"],
            "update_time": project.get("update_time", project["creation_time"]),
            "deleted": False,
            "repo_count": repo_count,
            "togglable": True,
            "metadata": {"public": "true" if project.get("public") else "false"},
            "cve_allowlist": {"id": 0, "project_id": project["project_id"], "items": [],
                              "creation_time": "0001-01-01T00:00:00.000Z",
                              "update_time": "0001-01-01T00:00:00.000Z"},
        }

    def find_project(self, name_or_id):
        """A project by name, or by ID when numeric (unless X-Is-Resource-Name: true)."""
        store = self.server.store
        by_name = self.headers.get("X-Is-Resource-Name", "").lower() == "true"
        if not by_name and re.fullmatch(r"[0-9]+", name_or_id):
            project_id = int(name_or_id)
            return store.project_by_id(project_id), "project %d not found" % project_id
        return store.project_by_name(name_or_id), "project %s not found" % name_or_id

    def check_project_access(self, caller, project, need_any=True, need=None):
        """Harbor's RequireProjectAccess: permission first (on a missing project too)."""
        account = caller.account
        store = self.server.store
        if project is None:
            allowed = account is not None and (account["admin"] or bool(
                account["permissions"].get("*")))
        elif need is not None:
            allowed = need in store.rights(account, project)
        else:
            allowed = bool(store.rights(account, project)) if need_any else False
        if allowed:
            return
        if account is None:
            raise ApiError(401, "UNAUTHORIZED", "unauthorized")
        raise ApiError(403, "FORBIDDEN", "forbidden")

    def head_project(self, caller, query):
        name = (query.get("project_name") or [""])[0]
        if not name:
            raise ApiError(400, "BAD_REQUEST", "project_name in query is required")
        self.require_signed_in(caller)
        if self.server.store.project_by_name(name) is None:
            raise ApiError(404, "NOT_FOUND", "project %s not found" % name)
        self.start(200, [("Content-Length", "0")])

    def get_project(self, caller, name_or_id):
        project, missing = self.find_project(name_or_id)
        self.check_project_access(caller, project)
        if project is None:
            raise ApiError(404, "NOT_FOUND", missing)
        self.send_json(200, self.project_json(project))

    @staticmethod
    def query_int(query, key, default):
        raw = (query.get(key) or [""])[0]
        if raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, "BAD_REQUEST", "%s in query must be of type int64: %r"
                           % (key, raw))
        if value < 1:
            raise ApiError(400, "BAD_REQUEST", "%s in query should be greater than or equal "
                           "to 1" % key)
        return value

    def paginate(self, items, query, path):
        page = self.query_int(query, "page", 1)
        page_size = min(self.query_int(query, "page_size", 10), 100)
        total = len(items)
        chosen = items[(page - 1) * page_size: page * page_size]
        links = []
        params = {k: v[0] for k, v in query.items()}
        if page > 1 and (page - 1) * page_size < total:
            params.update(page=str(page - 1), page_size=str(page_size))
            links.append('<%s?%s>; rel="prev"' % (path, urllib.parse.urlencode(params)))
        if page * page_size < total:
            params.update(page=str(page + 1), page_size=str(page_size))
            links.append('<%s?%s>; rel="next"' % (path, urllib.parse.urlencode(params)))
        headers = [("X-Total-Count", str(total))]
        if links:
            headers.append(("Link", ", ".join(links)))
        return chosen, headers

    def list_projects(self, caller, query):
        store = self.server.store
        name = (query.get("name") or [""])[0]
        public = (query.get("public") or [""])[0].lower()
        with store.lock:
            projects = [dict(p) for p in store.projects]
        account = caller.account
        visible = []
        for project in projects:
            if name and name not in project["name"]:
                continue
            if public in ("true", "1") and not project.get("public"):
                continue
            if public in ("false", "0") and project.get("public"):
                continue
            if account is not None and (account["admin"] or account["permissions"].get("*")):
                visible.append(project)
            elif store.rights(account, project):
                visible.append(project)
        visible.sort(key=lambda p: p["name"])
        chosen, headers = self.paginate(visible, query, "/api/v2.0/projects")
        catalog = self.server.catalog() if chosen else []
        payload = []
        for project in chosen:
            prefix = project["name"] + "/"
            payload.append(self.project_json(
                project, sum(1 for r in catalog if r.startswith(prefix))))
        self.send_json(200, payload, headers)

    def create_project(self, caller):
        body = self.json_body("project") or {}
        store = self.server.store
        self.require_signed_in(caller)
        account = caller.account
        if account["robot"] and account["level"] != "system":
            raise ApiError(403, "FORBIDDEN", "Only system level robot can create project")
        if not (account["admin"] or account["create_projects"]):
            raise ApiError(403, "FORBIDDEN", "Only system admin can create project")
        name = body.get("project_name", "")
        metadata = body.get("metadata") or {}
        if not isinstance(name, str) or not isinstance(metadata, dict):
            raise ApiError(400, "BAD_REQUEST", 'parsing project body from "" failed, because '
                           "project_name must be a string and metadata an object")
        public = metadata.get("public", "")
        if public in ("", None) and isinstance(body.get("public"), bool):
            public = "true" if body["public"] else "false"
        if public in ("", None):
            public = "false"
        if public not in ("true", "false"):
            raise ApiError(400, "BAD_REQUEST", "metadata.public should only be 'true' or "
                           "'false', but got: '%s'" % public)
        if not 1 <= len(name) <= 255:
            raise ApiError(400, "BAD_REQUEST", "Project name %s is illegal in length. "
                           "(greater than 255 or less than 1)" % name)
        if not PROJECT_NAME_RE.match(name):
            raise ApiError(400, "BAD_REQUEST", "project name is not in lower case or "
                           "contains illegal characters")
        with store.lock:
            if any(p["name"] == name for p in store.projects):
                raise ApiError(409, "CONFLICT", "The project named %s already exists" % name)
            project_id = max([p["project_id"] for p in store.projects] + [0]) + 1
            moment = harbor_time()
            store.projects.append({
                "project_id": project_id, "name": name, "public": public == "true",
                "creation_time": moment, "update_time": moment,
                "owner": account["name"] if not account["robot"] else "admin",
            })
            store.save_state()
        if self.headers.get("X-Resource-Name-In-Location", "").lower() == "true":
            location = "/api/v2.0/projects/%s" % name
        else:
            location = "/api/v2.0/projects/%d" % project_id
        self.start(201, [("Location", location), ("Content-Length", "0")])

    def delete_project(self, caller, name_or_id):
        store = self.server.store
        project, missing = self.find_project(name_or_id)
        account = caller.account
        if account is None:
            raise ApiError(401, "UNAUTHORIZED", "unauthorized")
        if not account["admin"]:
            raise ApiError(403, "FORBIDDEN", "forbidden")
        if project is None:
            raise ApiError(404, "NOT_FOUND", missing)
        with store.lock:
            store.projects = [p for p in store.projects
                              if p["project_id"] != project["project_id"]]
            store.robots = [r for r in store.robots
                            if not (r.get("level") == "project"
                                    and r.get("project_id") == project["project_id"])]
            store.save_state()
        self.start(200, [("Content-Length", "0")])

    # ---- API: robots -------------------------------------------------------------------
    def require_robot_admin(self, caller):
        self.require_signed_in(caller)
        if not caller.account["admin"]:
            raise ApiError(403, "FORBIDDEN", caller.account["name"])

    @staticmethod
    def robot_json(robot):
        return {
            "id": robot["id"],
            "name": robot["name"],
            "description": robot.get("description", ""),
            "level": robot.get("level", "system"),
            "duration": robot.get("duration", -1),
            "expires_at": robot.get("expires_at", -1),
            "disable": False,
            "editable": True,
            "creation_time": robot["creation_time"],
            "update_time": robot.get("update_time", robot["creation_time"]),
            "permissions": robot.get("permissions", []),
        }

    def create_robot(self, caller):
        body = self.json_body("robot") or {}
        store = self.server.store
        name = body.get("name")
        if not isinstance(name, str) or not ROBOT_NAME_RE.match(name):
            raise ApiError(400, "BAD_REQUEST", "robot name is not in lower case or contains "
                           "illegal characters")
        duration = body.get("duration", 0)
        if not isinstance(duration, int) or isinstance(duration, bool) \
                or not (duration == -1 or 0 < duration < 2 ** 31 - 1):
            raise ApiError(400, "BAD_REQUEST", "bad request error duration input: %s, duration "
                           "must be either -1(Never) or a positive integer" % duration)
        level = body.get("level")
        if level not in ("system", "project"):
            raise ApiError(400, "BAD_REQUEST", "bad request error level input: %s" % level)
        permissions = body.get("permissions")
        if not isinstance(permissions, list) or not permissions:
            raise ApiError(400, "BAD_REQUEST", "bad request empty permission")
        for perm in permissions:
            if not isinstance(perm, dict) or not isinstance(perm.get("access"), list) \
                    or not perm["access"]:
                raise ApiError(400, "BAD_REQUEST", "bad request empty access")
        if level == "project" and len(permissions) > 1:
            raise ApiError(400, "BAD_REQUEST", "bad request permission")
        for perm in permissions:
            kind = perm.get("kind")
            if kind not in POLICIES:
                raise ApiError(400, "BAD_REQUEST", "bad request permission level: %s" % kind)
            for item in perm["access"]:
                pair = (item.get("resource"), item.get("action")) if isinstance(item, dict) \
                    else (None, None)
                if pair not in POLICIES[kind]:
                    raise ApiError(400, "BAD_REQUEST", "bad request permission: %s:%s" % pair)
        self.require_robot_admin(caller)
        project_id = 0
        full = ROBOT_PREFIX + name
        for perm in permissions:
            namespace = perm.get("namespace")
            if perm["kind"] == "project" and namespace != "*":
                project = store.project_by_name(namespace) if isinstance(namespace, str) \
                    else None
                if project is None:
                    raise ApiError(404, "NOT_FOUND", "project %s not found" % namespace)
                if level == "project":
                    project_id = project["project_id"]
                    full = "%s%s+%s" % (ROBOT_PREFIX, namespace, name)
        if level == "project" and project_id == 0:
            raise ApiError(400, "BAD_REQUEST", "bad request permission")
        secret = random_secret()
        with store.lock:
            taken = any(r["name"] == full for r in store.robots) or any(
                a["name"] == full for a in store.accounts)
            if taken:
                raise ApiError(409, "CONFLICT", "robot account %d:%s already exists"
                               % (project_id, full[len(ROBOT_PREFIX):]))
            robot_id = max([r["id"] for r in store.robots] + [0]) + 1
            moment = now_utc()
            expires_at = -1 if duration == -1 else int(
                (moment + datetime.timedelta(days=duration)).timestamp())
            salt = secrets.token_hex(16)
            description = body.get("description", "")
            store.robots.append({
                "id": robot_id, "name": full, "level": level, "project_id": project_id,
                "description": description if isinstance(description, str) else "",
                "duration": duration, "expires_at": expires_at,
                "creation_time": harbor_time(moment), "update_time": harbor_time(moment),
                "permissions": permissions, "salt": salt,
                "secret_sha256": hash_secret(secret, salt),
            })
            store.save_state()
        self.send_json(201, {"id": robot_id, "name": full, "secret": secret,
                             "creation_time": harbor_time(moment), "expires_at": expires_at},
                       [("Location", "/api/v2.0/robots/%d" % robot_id)])

    def robot_by_id(self, raw_id):
        if not re.fullmatch(r"[0-9]+", raw_id):
            raise ApiError(400, "BAD_REQUEST", "robot_id in path must be of type int64: %r"
                           % raw_id)
        robot_id = int(raw_id)
        with self.server.store.lock:
            for robot in self.server.store.robots:
                if robot["id"] == robot_id:
                    return robot
        raise ApiError(404, "NOT_FOUND", "robot %d not found" % robot_id)

    def list_robots(self, caller, query):
        self.require_signed_in(caller)
        filters = {}
        for clause in (query.get("q") or [""])[0].split(","):
            key, sep, value = clause.partition("=")
            if sep:
                filters[key.strip()] = value.strip()
        level = filters.get("Level", filters.get("level", "system"))
        if level not in ("system", "project"):
            raise ApiError(400, "BAD_REQUEST", "bad request error level input")
        project_id = 0
        if level == "project":
            raw = filters.get("ProjectID", filters.get("project_id"))
            if raw is None:
                raise ApiError(400, "BAD_REQUEST", "must with project ID when to query project "
                               "robots")
            if not re.fullmatch(r"[0-9]+", raw):
                raise ApiError(400, "BAD_REQUEST", "Project ID must be int type.")
            project_id = int(raw)
        self.require_robot_admin(caller)
        wanted = filters.get("name")
        with self.server.store.lock:
            robots = [dict(r) for r in self.server.store.robots]
        chosen = []
        for robot in robots:
            if robot.get("level", "system") != level or robot.get("project_id", 0) != project_id:
                continue
            stored = robot["name"][len(ROBOT_PREFIX):]  # Harbor keeps names without prefix
            if wanted is not None:
                if wanted.startswith("~"):
                    if wanted[1:] not in stored:
                        continue
                elif stored != wanted:
                    continue
            chosen.append(robot)
        chosen.sort(key=lambda r: r["id"])
        page, headers = self.paginate(chosen, query, "/api/v2.0/robots")
        self.send_json(200, [self.robot_json(r) for r in page], headers)

    def get_robot(self, caller, raw_id):
        self.require_signed_in(caller)
        robot = self.robot_by_id(raw_id)
        self.require_robot_admin(caller)
        self.send_json(200, self.robot_json(robot))

    def delete_robot(self, caller, raw_id):
        self.require_signed_in(caller)
        robot = self.robot_by_id(raw_id)
        self.require_robot_admin(caller)
        store = self.server.store
        with store.lock:
            store.robots = [r for r in store.robots if r["id"] != robot["id"]]
            store.save_state()
        self.start(200, [("Content-Length", "0")])

    def refresh_robot_secret(self, caller, raw_id):
        body = self.json_body("robotSec") or {}
        self.require_signed_in(caller)
        robot = self.robot_by_id(raw_id)
        self.require_robot_admin(caller)
        wanted = body.get("secret") or ""
        if not isinstance(wanted, str):
            raise ApiError(400, "BAD_REQUEST", 'parsing robotSec body from "" failed, because '
                           "secret must be a string")
        answer = {}
        if wanted:
            if not valid_secret(wanted):
                raise ApiError(400, "BAD_REQUEST", "the secret must be 8-128, inclusively, "
                               "characters long with at least 1 uppercase letter, 1 lowercase "
                               "letter and 1 number")
            secret = wanted
        else:
            secret = random_secret()
            answer["secret"] = secret
        store = self.server.store
        with store.lock:
            for entry in store.robots:
                if entry["id"] == robot["id"]:
                    entry["salt"] = secrets.token_hex(16)
                    entry["secret_sha256"] = hash_secret(secret, entry["salt"])
                    entry["update_time"] = harbor_time()
            store.save_state()
        self.send_json(200, answer)

    # ---- token service -----------------------------------------------------------------
    def token_service(self, query):
        caller = self.identify(bearer_ok=False)
        if self.command not in ("GET", "HEAD"):
            raise ApiError(405, "METHOD_NOT_ALLOWED", "method %s is not allowed, but [GET] are"
                           % self.command, {"Allow": "GET"})
        service = (query.get("service") or [""])[0]
        if service != SERVICE:
            self.send_bytes(400, ("Unable to handle service: %s" % service).encode("utf-8"),
                            "text/plain; charset=utf-8")
            return
        if caller.basic_failed:
            raise ApiError(401, "UNAUTHORIZED", "unauthorized",
                           {"WWW-Authenticate": 'Basic realm="harbor"'})
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        account = caller.account
        if account is None and not scopes:
            raise ApiError(401, "UNAUTHORIZED", "unauthorized",
                           {"WWW-Authenticate": 'Basic realm="harbor"'})
        store = self.server.store
        grants = {}
        for scope in scopes:
            kind, sep, rest = scope.partition(":")
            name, sep2, actions = rest.rpartition(":")
            if not sep or not sep2 or not name:
                continue
            requested = {a.strip() for a in actions.split(",") if a.strip()}
            granted = set()
            if kind == "repository":
                if "*" in requested:
                    requested = (requested - {"*"}) | set(ACTIONS)
                project_name, slash, _ = name.partition("/")
                project = store.project_by_name(project_name) if slash else None
                if project is not None:
                    granted = requested & store.rights(account, project)
            elif kind == "registry" and name == "catalog":
                if account is not None and account["admin"]:
                    granted = requested
            grants.setdefault((kind, name), set()).update(granted)
        token = store.issue_token(account, grants)
        self.send_json(200, {"token": token, "access_token": token, "expires_in": TOKEN_TTL,
                             "issued_at": rfc3339()},
                       content_type="application/json; charset=utf-8")

    # ---- /v2 ---------------------------------------------------------------------------
    def challenge(self, caller, scopes):
        if caller.header:
            return 'Basic realm="harbor"'
        value = 'Bearer realm="%s/service/token",service="%s"' % (self.server.base, SERVICE)
        if scopes:
            value += ',scope="%s"' % " ".join(scopes)
        return value

    def deny_v2(self, caller, message, scopes=(), header=True):
        headers = {"Docker-Distribution-Api-Version": "registry/2.0"}
        if header:
            headers["WWW-Authenticate"] = self.challenge(caller, scopes)
        raise ApiError(401, "UNAUTHORIZED", doubled(message), headers)

    def may(self, caller, repo, action, project):
        """Does the caller hold ACTION on REPO (in PROJECT)?"""
        store = self.server.store
        if caller.token is not None:
            return action in caller.token["grants"].get(("repository", repo), set())
        return action in store.rights(caller.account, project)

    @staticmethod
    def parse_v2(path, query):
        """(kind, repository, reference, mount source) of a registry route, or None."""
        for kind, pattern in V2_ROUTES:
            match = pattern.match(path)
            if not match:
                continue
            repo = match.group("repo")
            ref = match.groupdict().get("ref")
            if kind == "manifest" or kind == "referrers":
                if not (DIGEST_RE.match(ref or "") or TAG_RE.match(ref or "")):
                    raise ApiError(404, "NOT_FOUND", "invalid reference format")
            if "/" not in repo:
                raise ApiError(400, "BAD_REQUEST", "bad request: invalid repository name: %s"
                               % repo)
            source = None
            if kind == "upload" and (query.get("from") or [""])[0]:
                source = query["from"][0]
                if "/" not in source:
                    raise ApiError(400, "BAD_REQUEST",
                                   "bad request: invalid repository name: %s" % source)
            return kind, repo, ref, source
        return None

    def v2(self, path, query):
        caller = self.identify(bearer_ok=True)
        method = self.command
        if path in ("/v2", "/v2/"):
            if not caller.signed_in:
                self.deny_v2(caller, "unauthorized")
            return self.proxy()
        if CATALOG_RE.match(path):
            admin = (caller.account is not None and caller.account["admin"]) or (
                caller.token is not None and caller.token["admin"]
                and caller.token["grants"].get(("registry", "catalog")))
            if not admin:
                headers = {"Docker-Distribution-Api-Version": "registry/2.0",
                           "WWW-Authenticate": 'Basic realm="harbor"'}
                raise ApiError(401, "UNAUTHORIZED", doubled("unauthorized to list catalog"),
                               headers)
            return self.proxy()
        parsed = self.parse_v2(path, query)
        action = METHOD_ACTION.get(method)
        if parsed is None or action is None:
            self.deny_v2(caller, "un-recognized request: %s %s" % (method, path), header=False)
        kind, repo, ref, source = parsed
        accesses = [(repo, action)]
        if method == "POST" and source:
            accesses.append((source, "pull"))
        words = {"pull": "pull", "push": "pull,push", "delete": "delete"}
        scopes = ["repository:%s:%s" % (name, words[act]) for name, act in accesses]
        for name, act in accesses:
            if not caller.header and method in ("GET", "HEAD"):
                self.deny_v2(caller, "authorize header needed to send HEAD to repository",
                             scopes)
            project_name = name.split("/", 1)[0]
            project = self.server.store.project_by_name(project_name)
            if project is None:
                message = "project %s not found" % project_name
                if self.server.flag("missing-project-401"):
                    raise ApiError(401, "UNAUTHORIZED", doubled(message),
                                   {"Docker-Distribution-Api-Version": "registry/2.0",
                                    "WWW-Authenticate": ""})
                raise ApiError(404, "NOT_FOUND", message,
                               {"Docker-Distribution-Api-Version": "registry/2.0"})
            if not self.may(caller, name, act, project):
                self.deny_v2(caller, "unauthorized to access repository: %s, action: %s"
                             % (name, act), scopes)
        if kind == "manifest" and method == "DELETE" and not DIGEST_RE.match(ref):
            raise ApiError(400, "UNSUPPORTED", "unsupported digest %s: invalid checksum digest "
                           "format" % ref)
        if kind == "referrers" and method == "GET" and self.server.flag("referrers"):
            return self.referrers(repo, ref, (query.get("artifactType") or [""])[0])
        watch_subject = kind == "manifest" and method == "PUT" and self.server.flag("referrers")
        return self.proxy(watch_subject=watch_subject)

    def referrers(self, repo, ref, artifact_type):
        if not DIGEST_RE.match(ref):
            raise ApiError(400, "BAD_REQUEST", "unsupported digest %s: invalid checksum digest "
                           "format" % ref)
        candidates = []
        data = self.server.options.registry_data
        if data:
            revisions = os.path.join(data, "docker", "registry", "v2", "repositories", repo,
                                     "_manifests", "revisions")
            try:
                for algorithm in sorted(os.listdir(revisions)):
                    for encoded in sorted(os.listdir(os.path.join(revisions, algorithm))):
                        candidates.append("%s:%s" % (algorithm, encoded))
            except OSError:
                pass
        quoted = urllib.parse.quote(repo)
        try:
            status, _, tags, _ = self.server.upstream_json("/v2/%s/tags/list" % quoted)
            if status == 200 and isinstance(tags, dict):
                candidates.extend(t for t in tags.get("tags") or [] if isinstance(t, str))
        except (OSError, http.client.HTTPException) as exc:
            log("tags of %s not read: %s" % (repo, exc))
        found = {}
        for reference in candidates:
            try:
                status, headers, manifest, raw = self.server.upstream_json(
                    "/v2/%s/manifests/%s" % (quoted, reference), accept=MANIFEST_ACCEPT)
            except (OSError, http.client.HTTPException) as exc:
                log("manifest %s@%s not read: %s" % (repo, reference, exc))
                continue
            if status != 200 or not isinstance(manifest, dict):
                continue
            subject = manifest.get("subject")
            if not isinstance(subject, dict) or subject.get("digest") != ref:
                continue
            digest = headers.get("Docker-Content-Digest") or (
                "sha256:" + hashlib.sha256(raw).hexdigest())
            config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
            descriptor = {
                "mediaType": manifest.get("mediaType") or headers.get("Content-Type", ""),
                "digest": digest,
                "size": len(raw),
            }
            kind = manifest.get("artifactType") or config.get("mediaType")
            if kind:
                descriptor["artifactType"] = kind
            if isinstance(manifest.get("annotations"), dict) and manifest["annotations"]:
                descriptor["annotations"] = manifest["annotations"]
            found[digest] = descriptor
        listed = [found[d] for d in sorted(found)]
        headers = [("X-Total-Count", str(len(listed)))]
        if artifact_type:
            listed = [d for d in listed if d.get("artifactType") == artifact_type]
            headers.append(("OCI-Filters-Applied", "artifactType"))
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": listed}
        self.send_json(200, index, headers,
                       content_type="application/vnd.oci.image.index.v1+json")

    # ---- the proxy ---------------------------------------------------------------------
    def rewrite_location(self, value):
        for prefix in self.server.upstream_prefixes:
            if value.startswith(prefix + "/") or value == prefix:
                return self.server.base + value[len(prefix):]
        return value

    def proxy(self, watch_subject=False):
        server = self.server
        method = self.command
        conn = server.upstream()
        copy = bytearray() if watch_subject else None
        try:
            conn.putrequest(method, self.path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", server.options.upstream)
            for key, value in self.headers.items():
                lower = key.lower()
                if lower in HOP_BY_HOP or lower in ("host", "authorization", "content-length",
                                                    "expect"):
                    continue
                conn.putheader(key, value)
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                for piece in self.body_pieces():
                    if copy is not None and len(copy) + len(piece) <= MAX_MANIFEST_COPY:
                        copy.extend(piece)
                    conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                conn.send(b"0\r\n\r\n")
            else:
                length = self.content_length()
                if length or method in ("POST", "PUT", "PATCH"):
                    conn.putheader("Content-Length", str(length))
                conn.endheaders()
                for piece in self.body_pieces():
                    if copy is not None and len(copy) + len(piece) <= MAX_MANIFEST_COPY:
                        copy.extend(piece)
                    conn.send(piece)
            resp = conn.getresponse()
        except BadBody:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            if isinstance(exc, (BrokenPipeError, ConnectionResetError)) and self._body_read:
                log("upstream dropped %s %s: %s" % (method, self.path, exc))
            else:
                log("upstream unreachable for %s %s: %s" % (method, self.path, exc))
            self.close_connection = True
            raise ApiError(500, "UNKNOWN", "internal server error")
        try:
            headers = []
            for key, value in resp.getheaders():
                lower = key.lower()
                if lower in HOP_BY_HOP or lower in ("server", "date", "content-length"):
                    continue
                if lower == "location":
                    value = self.rewrite_location(value)
                headers.append((key, value))
            if watch_subject and resp.status == 201 and copy:
                try:
                    manifest = json.loads(bytes(copy).decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    manifest = None
                if isinstance(manifest, dict) and isinstance(manifest.get("subject"), dict) \
                        and isinstance(manifest["subject"].get("digest"), str):
                    headers.append(("OCI-Subject", manifest["subject"]["digest"]))
            length = resp.getheader("Content-Length")
            bodiless = method == "HEAD" or resp.status in (204, 304) or resp.status < 200
            if length is not None:
                headers.append(("Content-Length", length))
            elif not bodiless:
                headers.append(("Transfer-Encoding", "chunked"))
            self.start(resp.status, headers)
            if bodiless:
                return
            while True:
                piece = resp.read(PIECE)
                if not piece:
                    break
                if length is not None:
                    self.wfile.write(piece)
                else:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            if length is None:
                self.wfile.write(b"0\r\n\r\n")
        finally:
            conn.close()


def main():
    parser = argparse.ArgumentParser(description="A stand-in for Harbor's API in front of a "
                                     "distribution registry (see the header of this file).")
    parser.add_argument("--dir", required=True, help="accounts.json, state.json, flags, logs")
    parser.add_argument("--listen", required=True, help="127.0.0.1:PORT")
    parser.add_argument("--upstream", required=True, help="the registry, 127.0.0.1:PORT")
    parser.add_argument("--registry-data", help="the registry's storage root (for referrers)")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    options = parser.parse_args()
    if bool(options.tls_cert) != bool(options.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    host, _, port = options.listen.rpartition(":")
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # stacks into the log, for debugging
    store = Store(options.dir)
    server = Front((host, int(port)), options, store)
    log("harbor-standin %s on %s, registry at %s" % (HARBOR_VERSION, server.base,
                                                     options.upstream))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
