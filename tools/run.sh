#!/usr/bin/env bash
# Builds mendd (release preset) and the web app (web/dist), and runs mendd on 127.0.0.1:8480
# with its data in ./data. Open http://127.0.0.1:8480/ to start a conversation.
# Extra arguments go to mendd, e.g. tools/run.sh --log-format json
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target mendd mend mend-example-conversation
tools/build-web.sh

mkdir -p data
cat <<'TEXT'

mendd is starting on 127.0.0.1:8480 (TLS and, from this machine, plaintext on one port).

Open the app:     http://127.0.0.1:8480/
                  Start a conversation there: each person gets their own invite link (and QR
                  code); open two of them in two browser windows to talk.
Data (conversations in mend.db, encrypted under master.key; TLS certificate; token secret): ./data

Create a room:
  curl -s -X POST http://127.0.0.1:8480/v1/rooms \
       -H 'Content-Type: application/json' \
       -d '{"template":"imago-dialogue","partnerAName":"Ana","partnerBName":"Ben"}'
  (over TLS: curl --cacert data/tls-cert.pem https://localhost:8480/...)
The answer holds the room id and one invite token per partner. Keep tokens private.

List templates:   curl -s http://127.0.0.1:8480/v1/templates
Health/metrics:   curl -s http://127.0.0.1:8480/healthz ; curl -s http://127.0.0.1:8480/metrics
Connect:          WebSocket ws://127.0.0.1:8480/v1/connect, subprotocol mend.v1, first frame
                  Hello{token}. Or use the terminal client:
                    build/release/tools/mend/mend create --template imago-dialogue --partner-a Ana --partner-b Ben
                  and paste the printed `mend join` commands into two terminals; or run
                    build/release/client-lib/mend-example-conversation
Stop:             Ctrl-C (clients are closed with 4001 and may reconnect).

TEXT
exec build/release/server/app/mendd --listen 127.0.0.1:8480 --data-dir ./data "$@"
