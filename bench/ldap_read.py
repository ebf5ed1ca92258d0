"""How fast LdapSource.read() is next to OpenLDAP's own ldapsearch, on the same server.

Run from the repository root (needs the Debian packages slapd and ldap-utils, and the
cryptography package):

    python bench/ldap_read.py                 # 50 000 people, best of 3 runs each
    python bench/ldap_read.py --people 10000 --repeat 5

It starts a throw-away slapd on 127.0.0.1 (tests/support/slapd_server.py), loads the people
offline with slapadd, then times, in the same run and against the same server, the bind
account that has a 1000-entry size limit reading every inetOrgPerson under ou=people in pages
of 500 with the five attributes a mapping typically needs:

* ``LdapSource.read()`` (paged search and the whole raw frame), and
* ``ldapsearch -x -H … -D … -w … -E pr=500/noprompt -b … "(objectClass=inetOrgPerson)"
  uid givenName sn mail employeeNumber > /dev/null``,

and prints both best times (and the spread of the runs) and their ratio (target: at most 2x).
Not a test: nothing fails on time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync.sources.ldap_source import LdapSource  # noqa: E402
from tests.support import ldap_directory  # noqa: E402
from tests.support.slapd_server import start_slapd  # noqa: E402

ATTRIBUTES = ["uid", "givenName", "sn", "mail", "employeeNumber"]
FILTER = "(objectClass=inetOrgPerson)"


def timed(repeat: int, run) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return times, result


def spread(times: list[float]) -> str:
    return f"(runs {min(times):.3f}–{max(times):.3f} s)" if len(times) > 1 else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-slapd-") as workdir:
        started = time.perf_counter()
        server = start_slapd(Path(workdir), people=args.people)
        print(f"slapd loaded with {args.people:,} people and started in "
              f"{time.perf_counter() - started:.2f} s")
        try:
            base = ldap_directory.PEOPLE_DN
            source = LdapSource("bench", server.url, base, bind_dn=server.bind_dn,
                                bind_password=server.bind_password, filter=FILTER,
                                page_size=args.page_size, attributes=ATTRIBUTES)
            our_times, data = timed(args.repeat, source.read)
            command = ["ldapsearch", "-x", "-H", server.url, "-D", server.bind_dn,
                       "-w", server.bind_password, "-E", f"pr={args.page_size}/noprompt",
                       "-b", base, FILTER, *ATTRIBUTES]

            def ldapsearch() -> None:
                subprocess.run(command, stdout=subprocess.DEVNULL, check=True)

            their_times, _ = timed(args.repeat, ldapsearch)
        finally:
            server.stop()

    entries = len(data.frame)
    ours, theirs = min(our_times), min(their_times)
    print(f"LdapSource.read(): {ours:7.3f} s  {entries:,} entries  "
          f"({entries / ours:,.0f} entries/s)  {spread(our_times)}")
    print(f"ldapsearch:        {theirs:7.3f} s  {spread(their_times)}")
    print(f"ratio:             {ours / theirs:7.2f}x  (target <= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
