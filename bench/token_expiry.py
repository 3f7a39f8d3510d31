"""expire_tokens: its time and Firestore reads grow with what is due, not with what is stored."""

from __future__ import annotations

import datetime
import time

from bench.emulated import emulated_backends, write_all
from devstack import emulators

DUE = 10
SIZES = (1_000, 10_000)


def _seed(total: int, due: int, now: datetime.datetime) -> None:
    from shared.store.enrollment_profiles import COLLECTION
    from shared.store.keys import new_id

    def profile(index: int) -> dict[str, object]:
        expires = (now - datetime.timedelta(hours=1) if index < due
                   else now + datetime.timedelta(days=1 + index % 29))
        return {"name": f"Profile {index}", "space": "global", "status": "ACTIVE",
                "validityDays": 30, "tokenExpireTime": expires, "createTime": now,
                "updateTime": now,
                "token": {"name": f"enterprises/LC00bench/enrollmentTokens/t{index}",
                          "value": "X", "createTime": now}}

    write_all(COLLECTION, ((new_id() + f"{index:05d}", profile(index)) for index in range(total)))


def main() -> None:
    """Print one line per stored-profile count."""
    with emulated_backends() as backends:
        from shared.clock import utcnow
        from shared.enrollment.token_expiry import expire_tokens

        print(f"expire_tokens with {DUE} profiles due (Firestore emulator, AMAPI emulator)")
        print(f"  {'stored':>8} {'expired':>8} {'docs read':>10} {'time ms':>9} "
              f"{'2nd run ms':>11}")
        for total in SIZES:
            emulators.clear_firestore(backends["firestore_host"], backends["project"])
            now = utcnow()
            _seed(total, DUE, now)
            started = time.perf_counter()
            run = expire_tokens(now)
            elapsed = time.perf_counter() - started
            started = time.perf_counter()
            again = expire_tokens(now)
            second = time.perf_counter() - started
            assert run.expired == DUE and again.expired == 0
            print(f"  {total:>8} {run.expired:>8} {run.scanned:>10} {elapsed * 1000:>9.1f} "
                  f"{second * 1000:>11.1f}")
        print("  (documents read stay at the number due; the emulator answers the query by "
              "scanning, production by the (status, tokenExpireTime) index)")


if __name__ == "__main__":
    main()
