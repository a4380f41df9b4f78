#!/usr/bin/env python3
"""A local mail sink for development and the browser tests: an SMTP server (enough of RFC 5321 for
the auth-service's lettre client) that keeps every message, writes each to DIR as an .eml file,
prints its recipient, subject and links, and serves them as JSON over HTTP:

    GET /messages            [{"to": [...], "subject", "text", "links": [...]}, ...] oldest first

Standard library only, so it runs wherever Python 3.8+ does.

    bin/lib/mail-sink.py --smtp-port 2525 --http-port 8025 --dir .dev/mail
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import re
import sys

LINK = re.compile(r"https?://[^\s\"'<>]+")
MESSAGES = []


def parse(raw, rcpts):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain",))
    text = part.get_content() if part is not None else ""
    return {"to": rcpts, "subject": str(msg.get("subject", "")), "text": text,
            "links": sorted(set(LINK.findall(text)))}


async def smtp(reader, writer, out_dir):
    def reply(line):
        writer.write(line.encode() + b"\r\n")

    reply("220 mail-sink ESMTP")
    rcpts = []
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = line.decode("utf-8", "replace").strip()
        up = cmd.upper()
        if up.startswith(("EHLO", "HELO")):
            writer.write(b"250-mail-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
        elif up.startswith("MAIL FROM"):
            rcpts = []
            reply("250 OK")
        elif up.startswith("RCPT TO"):
            rcpts.append(cmd[8:].strip().strip("<>"))
            reply("250 OK")
        elif up == "DATA":
            reply("354 go ahead")
            await writer.drain()
            data = bytearray()
            while True:
                chunk = await reader.readline()
                if not chunk or chunk in (b".\r\n", b".\n"):
                    break
                data += chunk[1:] if chunk.startswith(b"..") else chunk
            m = parse(bytes(data), rcpts)
            MESSAGES.append(m)
            path = os.path.join(out_dir, f"{len(MESSAGES):04d}.eml")
            with open(path, "wb") as f:
                f.write(bytes(data))
            print(f"mail to {', '.join(rcpts)}: {m['subject']} ({path})", flush=True)
            for link in m["links"]:
                print(f"  link: {link}", flush=True)
            reply("250 OK queued")
        elif up == "QUIT":
            reply("221 bye")
            await writer.drain()
            break
        else:
            reply("250 OK")
        await writer.drain()
    writer.close()


async def http(reader, writer):
    request = await reader.readline()
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass
    ok = request.split()[:2] == [b"GET", b"/messages"]
    body = json.dumps(MESSAGES if ok else {"error": "GET /messages"}).encode()
    status = b"200 OK" if ok else b"404 Not Found"
    writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                 + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    writer.close()


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smtp-port", type=int, default=2525)
    p.add_argument("--http-port", type=int, default=8025)
    p.add_argument("--dir", default=".dev/mail")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    s = await asyncio.start_server(lambda r, w: smtp(r, w, a.dir), "127.0.0.1", a.smtp_port)
    h = await asyncio.start_server(http, "127.0.0.1", a.http_port)
    print(f"mail sink: SMTP on 127.0.0.1:{a.smtp_port}, messages at http://127.0.0.1:{a.http_port}/messages "
          f"and in {a.dir}/", flush=True)
    async with s, h:
        await asyncio.gather(s.serve_forever(), h.serve_forever())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
