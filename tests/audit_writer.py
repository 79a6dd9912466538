"""A real audit-log writer process for the tests: appends groups, then acknowledges them.

Usage: audit_writer.py AUDIT_DIR ACK_FILE NAME GROUPS GROUP_SIZE PAYLOAD_BYTES SEGMENT_BYTES
A decision id is written to ACK_FILE only after append_many returned (fsync done), so every
id in ACK_FILE is a record the log acknowledged and must never lose.
"""

import signal
import sys
from pathlib import Path

from charging_rules.audit import log


def main() -> None:
    # CPython ignores SIGXFSZ; the default action lets a file-size limit kill us mid-write
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    audit_dir, ack_file, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    groups, size, payload, segment = (int(a) for a in sys.argv[4:8])
    with ack_file.open("a") as acks:
        for group in range(groups):
            entries = [{"kind": "recommendation", "actor": name,
                        "decision_id": f"{name}-{group}-{i}", "payload": "x" * payload}
                       for i in range(size)]
            written = log.append_many(audit_dir, entries, segment_bytes=segment)
            acks.write("".join(f"{r['decision_id']}\n" for r in written))
            acks.flush()


if __name__ == "__main__":
    main()
