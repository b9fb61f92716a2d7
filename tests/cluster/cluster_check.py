#!/usr/bin/env python3
"""Safety checks of the cluster fault tests, over the nodes' HTTP APIs.

  cluster_check.py same-blocks URL...            identical block hash at every height 1..min head
                                                 height of the nodes (GET /v1/blocks/{h})
  cluster_check.py acks ACKFILE URL...           every transaction in ACKFILE ("tx_hash height
                                                 node" lines) is committed on every node, at the
                                                 same height, the one the CLI reported
  cluster_check.py prefix URL_SHORT URL_LONG     every block of the shorter chain is the same
                                                 block in the longer one (no conflicting commit)

Exit 0 if the check holds; 1 with the first difference on stderr.
"""
import json
import sys
import urllib.error
import urllib.request


def get(url, path):
    with urllib.request.urlopen(url + path, timeout=5) as r:
        return json.load(r)


def head(url):
    return get(url, "/healthz")["height"]


def block_hashes(url, upto):
    return [get(url, "/v1/blocks/%d" % h)["hash"] for h in range(1, upto + 1)]


def same_blocks(urls):
    heads = [head(u) for u in urls]
    top = min(heads)
    ref = block_hashes(urls[0], top)
    for u in urls[1:]:
        other = block_hashes(u, top)
        for h, (a, b) in enumerate(zip(ref, other), start=1):
            if a != b:
                sys.exit("height %d: %s has %s, %s has %s" % (h, urls[0], a, u, b))
    print("# identical block hashes at heights 1..%d on %d nodes (heads %s)" % (top, len(urls), heads))


def acks(path, urls):
    lines = [l.split() for l in open(path) if l.strip()]
    if not lines:
        sys.exit("no acknowledged transaction in %s" % path)
    for tx, height, _node in lines:
        for u in urls:
            try:
                st = get(u, "/v1/txs/" + tx)
            except urllib.error.HTTPError as e:
                sys.exit("%s: tx %s acknowledged at height %s: HTTP %d" % (u, tx, height, e.code))
            if st.get("status") != "committed" or str(st.get("height")) != height:
                sys.exit("%s: tx %s acknowledged committed at height %s, node says %s" % (u, tx, height, st))
    print("# %d acknowledged transactions committed at the same height on %d nodes" % (len(lines), len(urls)))


def prefix(short, long):
    top = min(head(short), head(long))
    a, b = block_hashes(short, top), block_hashes(long, top)
    for h, (x, y) in enumerate(zip(a, b), start=1):
        if x != y:
            sys.exit("height %d: %s has %s, %s has %s" % (h, short, x, long, y))
    print("# %s's blocks 1..%d are the same in %s" % (short, top, long))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "same-blocks":
        same_blocks(args)
    elif cmd == "acks":
        acks(args[0], args[1:])
    elif cmd == "prefix":
        prefix(args[0], args[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
