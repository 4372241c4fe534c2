#!/usr/bin/env bash
# Start (or install) the services the test suite talks to. Idempotent: a running service is left alone.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The binary is needed even when a server already listens on 4222: the scale-out tests start a
# 3-node cluster of their own, and the outage tests a private server they can kill.
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
  echo "nats-server missing: installing from Debian's packages"
  (apt-get update -qq && apt-get install -y -qq nats-server) || echo "WARN: could not install nats-server"
fi
if ! port_open 4222; then
  bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  if [ -x "$bin" ]; then
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec "$bin" -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
    for _ in $(seq 1 50); do port_open 4222 && break; sleep 0.1; done
  fi
fi
port_open 4222 && echo "nats: up on 127.0.0.1:4222" || echo "WARN: nats is not reachable on 127.0.0.1:4222"
# The dashboard's browser test drives Debian's chromium (playwright-core, no browser download); top's test uses tmux.
for pkg in chromium tmux; do
  if ! command -v "$pkg" >/dev/null; then
    echo "$pkg missing: installing from Debian's packages"
    (apt-get update -qq && apt-get install -y -qq "$pkg") || echo "WARN: could not install $pkg"
  fi
done
exit 0
