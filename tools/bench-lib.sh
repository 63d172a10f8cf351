# Shell helpers shared by the bench-*.sh scripts (sourced, not run). Loopback only.

# A TCP port free on 127.0.0.1 now.
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Waits until 127.0.0.1:$1 accepts a connection, for at most ${2:-10} seconds; fails after.
wait_port() {
  local tries=$(( ${2:-10} * 10 ))
  for _ in $(seq "$tries"); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "$(basename "$0"): nothing listens on 127.0.0.1:$1" >&2
  return 1
}
