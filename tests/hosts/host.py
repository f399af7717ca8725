"""One irp host for the multi-host test, run as a script: `host.py NAME -- ARGV [-- ARGV ...]`.

Started by `unshare` where the kernel allows it, it is the first process of its own PID, mount
and UTS namespaces: it names the host NAME, starts each ARGV (serve, the webhook) and waits.
SIGKILL to it then ends every process of the host at once, as a lost machine does. Without
namespaces it only starts and waits (the test then kills its process group).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    name, *rest = argv
    if os.getpid() == 1:  # our own namespaces: this is a machine of its own
        socket.sethostname(name)
    commands: list[list[str]] = []
    for word in rest:
        if word == "--":
            commands.append([])
        else:
            commands[-1].append(word)
    children = [subprocess.Popen(command) for command in commands if command]
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.kill()
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
