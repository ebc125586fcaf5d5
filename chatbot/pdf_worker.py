"""Reads a PDF's pages with pypdf in a process of its own, for ``chatbot.documents``.

    python -P chatbot/pdf_worker.py MAX_PAGES MEMORY_BYTES < file.pdf

Each page's text is sent on stdout as soon as it is read, as a frame: a tag byte, a 4-byte
length, that many bytes. Tags: ``T`` a page's text, ``D`` done, ``P`` the page cap was reached,
``L`` a pypdf or memory limit, ``E`` pypdf's error. The parent kills the process at its
deadline; the address space is capped so one page cannot take the machine's memory.
"""

from __future__ import annotations

import io
import os
import struct
import sys
from typing import BinaryIO


def _send(out: BinaryIO, tag: bytes, data: bytes = b"") -> None:
    out.write(tag + struct.pack(">I", len(data)) + data)
    out.flush()


def _cap_memory(limit: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):
        pass  # no such limit on this system: the parent's deadline still holds


def main() -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not between the frames
    data = sys.stdin.buffer.read()
    max_pages, memory = int(sys.argv[1]), int(sys.argv[2])
    _cap_memory(memory)
    # Imported after the cap, so that parsing is inside it from the start.
    import pypdf
    from pypdf.errors import LimitReachedError

    try:
        for number, page in enumerate(pypdf.PdfReader(io.BytesIO(data)).pages):
            if number == max_pages:
                _send(out, b"P")
                break
            _send(out, b"T", page.extract_text().encode("utf-8", "surrogatepass"))
        else:
            _send(out, b"D")
    except (LimitReachedError, MemoryError, RecursionError) as exc:
        _send(out, b"L", repr(exc).encode())
    except Exception as exc:
        _send(out, b"E", f"{type(exc).__name__}: {exc}".encode(errors="replace"))


if __name__ == "__main__":
    main()
