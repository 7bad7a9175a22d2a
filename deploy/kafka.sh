#!/usr/bin/env bash
# Throwaway Apache Kafka in KRaft mode: one combined broker+controller node, or
# (start-cluster) N such nodes forming one cluster, for fault tests.
# Usage: deploy/kafka.sh fetch|start|stop|restart|status|version [WORKDIR]
#        deploy/kafka.sh create-topic WORKDIR NAME PARTITIONS
#        deploy/kafka.sh topics WORKDIR NAME:PARTITIONS...
#        deploy/kafka.sh tool CLASS [ARGS...]   (a Kafka tool's main class, with the fetched jars)
#        deploy/kafka.sh consumer-groups ARGS... (kafka-consumer-groups: ConsumerGroupCommand)
#        deploy/kafka.sh start-cluster WORKDIR [NODES]   (default 3 nodes; stop/status/restart work on it)
#        deploy/kafka.sh kill-node|stop-node|start-node WORKDIR ID   (kill -9 / SIGTERM / start node ID)
#        deploy/kafka.sh leader WORKDIR TOPIC PARTITION   (prints the leader's node id, -1 if none)
#        deploy/kafka.sh wait-isr WORKDIR [SECONDS]   (until every partition has a leader and a full ISR)
# Jars come from Maven Central via deploy/kafka/pom.xml (cached under build/).
# State lives in WORKDIR/kafka (default WORKDIR: $REPO/build/work); see docs/services.md.
# HF_KAFKA_TLS=1 on a fresh start makes the client listener SASL_SSL with
# SCRAM-SHA-512 (a keystore made with the JRE's keytool, certificate for
# localhost/127.0.0.1; user hemoflow with a random password); the broker's own
# and the admin tools' traffic stays on a PLAINTEXT listener on 127.0.0.1.
# kafka.env then also has HF_KAFKA_CA, HF_KAFKA_SASL_USER,
# HF_KAFKA_SASL_PASSWORD_FILE and HF_KAFKA_ADMIN_BOOTSTRAP. See docs/security.md.
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POM="$HF_REPO/deploy/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
[[ -n $KAFKA_VERSION ]] || hf_die "no <kafka.version> in $POM"
KAFKA_HOME="$HF_REPO/build/kafka-$KAFKA_VERSION"
LIBS="$KAFKA_HOME/libs"
MARKER="$LIBS/.complete"
START_TIMEOUT=${HF_KAFKA_START_TIMEOUT:-90}

usage() {
  sed -n '4,12p' "$0" | sed 's/^# //' >&2
  exit 2
}

kjava() { # run a Kafka main class with the fetched jars
  local heap=$1; shift
  java "$heap" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2.properties" -Dhf.loglevel=WARN \
    -cp "$LIBS/*" "$@"
}

cmd_fetch() {
  if [[ -f $MARKER ]]; then
    hf_log "Kafka $KAFKA_VERSION jars already in $LIBS (cached)"
    return 0
  fi
  command -v mvn >/dev/null || hf_die "mvn not found (apt-get install maven)"
  command -v java >/dev/null || hf_die "java not found (apt-get install openjdk-17-jre-headless)"
  hf_log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven into $LIBS"
  rm -rf "$LIBS" "$LIBS.tmp"
  mkdir -p "$LIBS.tmp"
  mvn -B -f "$POM" -Dmaven.repo.local="$HF_REPO/build/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" \
    >"$KAFKA_HOME/maven.log" 2>&1 \
    || { tail -n 30 "$KAFKA_HOME/maven.log" >&2; hf_die "maven could not resolve Kafka $KAFKA_VERSION (log: $KAFKA_HOME/maven.log)"; }
  [[ -f "$LIBS.tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || hf_die "kafka_2.13 jar missing after maven run"
  mv "$LIBS.tmp" "$LIBS"
  cat > "$KAFKA_HOME/log4j2.properties" <<'LOG'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_ERR
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${sys:hf.loglevel:-INFO}
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = ${sys:hf.loglevel:-INFO}
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
LOG
  touch "$MARKER"  # written last: its presence means the download is complete
  hf_log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

# --- state -------------------------------------------------------------------
KDIR=""
set_workdir() {
  WORK="$(hf_workdir "${1:-}")"
  KDIR="$WORK/kafka"
  ENV_FILE="$WORK/kafka.env"
  PID_FILE="$KDIR/pid"
  STATE="$KDIR/state.env"
  TLSDIR="$KDIR/tls"
  TLS=0
  [[ $(hf_env_get "$STATE" TLS 2>/dev/null) == 1 ]] && TLS=1
  ADMIN_PORT=$(hf_env_get "$STATE" ADMIN_PORT 2>/dev/null || true)
  return 0
}

# the port the admin tools, kcat's liveness probe and topic creation use:
# the client port, or with TLS the broker's PLAINTEXT listener
admin_port() {
  if ((TLS)); then hf_env_get "$STATE" ADMIN_PORT; else hf_env_get "$STATE" BROKER_PORT; fi
}

running_pid() { # print the broker pid if it is alive and really our broker
  local pid
  [[ -f $PID_FILE ]] || return 1
  pid=$(<"$PID_FILE")
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

broker_answers() { kcat -b "127.0.0.1:$1" -L -m 5 >/dev/null 2>&1; }

write_config() {
  if ((TLS)); then write_config_tls; return; fi
  cat > "$KDIR/server.properties" <<CONF
# generated by deploy/kafka.sh -- edits are lost on the next fresh start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KDIR/data
num.partitions=3
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=24
CONF
}

new_cluster_id() {
  # a random base64url UUID, as kafka-storage random-uuid makes; one starting
  # with '-' would be read as an option by "format -t", so draw again
  python3 -c '
import uuid, base64
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break'
}

write_config_tls() {
  (umask 077; cat > "$KDIR/server.properties" <<CONF
# generated by deploy/kafka.sh (HF_KAFKA_TLS=1) -- edits are lost on the next fresh start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=SASL_SSL://127.0.0.1:$BROKER_PORT,INTERNAL://127.0.0.1:$ADMIN_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://127.0.0.1:$BROKER_PORT,INTERNAL://127.0.0.1:$ADMIN_PORT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLSDIR/broker.p12
ssl.keystore.password=$(<"$TLSDIR/keystore.password")
ssl.enabled.protocols=TLSv1.3,TLSv1.2
ssl.client.auth=none
log.dirs=$KDIR/data
num.partitions=3
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=24
CONF
  )
}

# make_tls: the broker's key and certificate (CN=localhost, subjectAltName
# localhost and 127.0.0.1) in a PKCS12 keystore made by keytool, the
# certificate exported as the clients' CA file; random keystore and SCRAM
# passwords, each in a file of mode 0600 (passed to keytool as files, so
# neither is on a command line).
make_tls() {
  command -v keytool >/dev/null || hf_die "keytool not found (apt-get install openjdk-17-jre-headless)"
  mkdir -p "$TLSDIR"
  chmod 700 "$TLSDIR"
  (
    cd "$TLSDIR"
    umask 077
    python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >keystore.password
    python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")' >client.password
    keytool -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 30 \
      -dname "CN=localhost" -ext "SAN=dns:localhost,ip:127.0.0.1" \
      -keystore broker.p12 -storetype PKCS12 -storepass:file keystore.password
    keytool -exportcert -rfc -alias broker -keystore broker.p12 -storetype PKCS12 \
      -storepass:file keystore.password -file ca.pem
    chmod 644 ca.pem
  ) >"$KDIR/tls.log" 2>&1 || { cat "$KDIR/tls.log" >&2; hf_die "keytool could not make the broker keystore"; }
}

# scram_arg: the --add-scram credential for user hemoflow, salted here
# (PBKDF2-HMAC-SHA-512, as SCRAM-SHA-512 defines SaltedPassword) so the
# password itself is on no command line
scram_arg() {
  python3 - "$TLSDIR/client.password" <<'PY'
import base64, hashlib, os, sys
pw = open(sys.argv[1], "rb").read()
salt, it = os.urandom(16), 8192
sp = hashlib.pbkdf2_hmac("sha512", pw, salt, it)
print('SCRAM-SHA-512=[name=hemoflow,iterations=%d,salt="%s",saltedpassword="%s"]'
      % (it, base64.b64encode(salt).decode(), base64.b64encode(sp).decode()))
PY
}

fresh_setup() {
  rm -rf "$KDIR"
  mkdir -p "$KDIR/data"
  BROKER_PORT=$(hf_free_port)
  CONTROLLER_PORT=$(hf_free_port)
  while [[ $CONTROLLER_PORT == "$BROKER_PORT" ]]; do CONTROLLER_PORT=$(hf_free_port); done
  ADMIN_PORT=
  if ((TLS)); then
    ADMIN_PORT=$(hf_free_port)
    while [[ $ADMIN_PORT == "$BROKER_PORT" || $ADMIN_PORT == "$CONTROLLER_PORT" ]]; do
      ADMIN_PORT=$(hf_free_port)
    done
    make_tls
  fi
  CLUSTER_ID=$(new_cluster_id)
  write_config
  hf_log "formatting $KDIR/data (cluster id $CLUSTER_ID)"
  local scram=()
  ((TLS)) && scram=(--add-scram "$(scram_arg)")
  kjava -Xmx256m kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$KDIR/server.properties" \
    "${scram[@]}" >"$KDIR/format.log" 2>&1 \
    || { cat "$KDIR/format.log" >&2; hf_die "kafka storage format failed"; }
  printf 'BROKER_PORT=%s\nCONTROLLER_PORT=%s\nCLUSTER_ID=%s\nVERSION=%s\nTLS=%s\nADMIN_PORT=%s\n' \
    "$BROKER_PORT" "$CONTROLLER_PORT" "$CLUSTER_ID" "$KAFKA_VERSION" "$TLS" "$ADMIN_PORT" > "$STATE"
}

cmd_start() {
  command -v kcat >/dev/null || hf_die "kcat not found (apt-get install kcat)"
  cmd_fetch
  if pid=$(running_pid); then
    BROKER_PORT=$(hf_env_get "$STATE" BROKER_PORT)
    hf_log "broker already running (pid $pid)"
  else
    # Reuse the previous data and ports when possible (restart), else start fresh.
    BROKER_PORT=$(hf_env_get "$STATE" BROKER_PORT || true)
    CONTROLLER_PORT=$(hf_env_get "$STATE" CONTROLLER_PORT || true)
    if [[ -n $BROKER_PORT && -n $CONTROLLER_PORT && -f $KDIR/data/meta.properties \
          && $(hf_env_get "$STATE" VERSION) == "$KAFKA_VERSION" ]] \
       && ! hf_port_open 127.0.0.1 "$BROKER_PORT" && ! hf_port_open 127.0.0.1 "$CONTROLLER_PORT" \
       && { ((TLS == 0)) || ! hf_port_open 127.0.0.1 "$ADMIN_PORT"; }; then
      hf_log "reusing $KDIR (ports $BROKER_PORT/$CONTROLLER_PORT)"
    else
      TLS=0; [[ ${HF_KAFKA_TLS:-0} == 1 ]] && TLS=1
      fresh_setup
    fi
    hf_log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$BROKER_PORT (log: $KDIR/server.log)"
    # KAFKA_HEAP_OPTS-like override: HF_KAFKA_HEAP (default -Xmx512m)
    setsid nohup java "${HF_KAFKA_HEAP:--Xmx512m}" -Xms256m -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2.properties" \
      -cp "$LIBS/*" kafka.Kafka "$KDIR/server.properties" \
      >>"$KDIR/server.log" 2>&1 </dev/null &
    echo $! > "$PID_FILE"
    local deadline=$((SECONDS + START_TIMEOUT))
    until broker_answers "$(admin_port)"; do
      if ! running_pid >/dev/null || (( SECONDS >= deadline )); then
        tail -n 40 "$KDIR/server.log" >&2 || true
        running_pid >/dev/null && cmd_stop_quiet
        hf_die "Kafka did not come up on 127.0.0.1:$BROKER_PORT (full log: $KDIR/server.log)"
      fi
      sleep 0.5
    done
    hf_log "Kafka up after ${SECONDS}s"
  fi
  printf 'HF_KAFKA_BOOTSTRAP=127.0.0.1:%s\nHF_KAFKA_VERSION=%s\n' "$BROKER_PORT" "$KAFKA_VERSION" > "$ENV_FILE"
  if ((TLS)); then
    printf 'HF_KAFKA_ADMIN_BOOTSTRAP=127.0.0.1:%s\nHF_KAFKA_CA=%s\nHF_KAFKA_SASL_USER=hemoflow\nHF_KAFKA_SASL_PASSWORD_FILE=%s\n' \
      "$(admin_port)" "$TLSDIR/ca.pem" "$TLSDIR/client.password" >> "$ENV_FILE"
  fi
  cat "$ENV_FILE"
}

cmd_stop_quiet() {
  local pid
  pid=$(running_pid) || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    [[ -d /proc/$pid ]] || break
    sleep 0.5
  done
  if [[ -d /proc/$pid ]]; then
    hf_log "broker pid $pid ignored SIGTERM for 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while [[ -d /proc/$pid ]]; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
}

cmd_stop() {
  if running_pid >/dev/null; then
    cmd_stop_quiet
    hf_log "Kafka stopped"
  else
    hf_log "Kafka not running"
  fi
}

cmd_status() {
  local pid port
  if pid=$(running_pid) && port=$(admin_port) && broker_answers "$port"; then
    hf_log "Kafka running (pid $pid, 127.0.0.1:$port)"
    return 0
  fi
  hf_log "Kafka not running"
  return 1
}

cmd_create_topic() { # NAME PARTITIONS
  local name=$1 parts=$2 port
  local boot rf=(--replication-factor 1)
  if is_cluster; then
    boot=$(cluster_bootstrap) rf=()   # the cluster's default.replication.factor
  else
    port=$(admin_port) || hf_die "no broker state in $KDIR; run start first"
    boot=127.0.0.1:$port
  fi
  kjava -Xmx256m org.apache.kafka.tools.TopicCommand --bootstrap-server "$boot" \
    --create --if-not-exists --topic "$name" --partitions "$parts" "${rf[@]}" >&2 \
    || hf_die "could not create topic $name"
}

# --- cluster mode (start-cluster) --------------------------------------------
# N combined broker+controller nodes in WORKDIR/kafka/node<ID>/, a static
# quorum of all N voters; state.env records NODES=N and each node's ports.
# Defaults for every topic: replication factor N (at most 3), min.insync.replicas 2.
is_cluster() { [[ -n $(hf_env_get "$STATE" NODES 2>/dev/null) ]]; }
nodes() { hf_env_get "$STATE" NODES; }

node_pid() { # ID: print the pid of node ID if it is alive and really that node
  local f="$KDIR/node$1/pid" pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $KDIR/node$1/server.properties" || return 1
  echo "$pid"
}

node_port() { hf_env_get "$STATE" "BROKER_PORT_$1"; }

cluster_bootstrap() {
  local i list=""
  for i in $(seq 1 "$(nodes)"); do list+="${list:+,}127.0.0.1:$(node_port "$i")"; done
  echo "$list"
}

write_node_config() { # ID N VOTERS
  local id=$1 n=$2 voters=$3 rf=$(( $2 < 3 ? $2 : 3 ))
  local isr=$(( rf < 2 ? 1 : 2 ))
  cat > "$KDIR/node$id/server.properties" <<CONF
# generated by deploy/kafka.sh start-cluster -- edits are lost on the next fresh start
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(hf_env_get "$STATE.new" "BROKER_PORT_$id"),CONTROLLER://127.0.0.1:$(hf_env_get "$STATE.new" "CONTROLLER_PORT_$id")
advertised.listeners=PLAINTEXT://127.0.0.1:$(hf_env_get "$STATE.new" "BROKER_PORT_$id")
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KDIR/node$id/data
num.partitions=3
default.replication.factor=$rf
min.insync.replicas=$isr
unclean.leader.election.enable=false
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=24
CONF
}

cluster_fresh_setup() { # N
  local n=$1 i used=" " p voters=""
  rm -rf "$KDIR"
  mkdir -p "$KDIR"
  new_port() { # a free port not handed out yet in this setup
    p=$(hf_free_port)
    while [[ $used == *" $p "* ]]; do p=$(hf_free_port); done
    used+="$p "
  }
  {
    printf 'NODES=%s\nVERSION=%s\n' "$n" "$KAFKA_VERSION"
    for i in $(seq 1 "$n"); do
      new_port; printf 'BROKER_PORT_%s=%s\n' "$i" "$p"
      new_port; printf 'CONTROLLER_PORT_%s=%s\n' "$i" "$p"
    done
  } > "$STATE.new"
  for i in $(seq 1 "$n"); do
    voters+="${voters:+,}$i@127.0.0.1:$(hf_env_get "$STATE.new" "CONTROLLER_PORT_$i")"
  done
  CLUSTER_ID=$(new_cluster_id)
  hf_log "formatting $n nodes under $KDIR (cluster id $CLUSTER_ID)"
  local pids=()
  for i in $(seq 1 "$n"); do
    mkdir -p "$KDIR/node$i/data"
    write_node_config "$i" "$n" "$voters"
    kjava -Xmx256m kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$KDIR/node$i/server.properties" \
      >"$KDIR/node$i/format.log" 2>&1 &
    pids+=($!)
  done
  for i in $(seq 1 "$n"); do
    wait "${pids[$((i - 1))]}" \
      || { cat "$KDIR/node$i/format.log" >&2; hf_die "kafka storage format failed for node $i"; }
  done
  printf 'CLUSTER_ID=%s\n' "$CLUSTER_ID" >> "$STATE.new"
  # BROKER_PORT: node 1, for the commands that talk to "the" broker
  printf 'BROKER_PORT=%s\n' "$(hf_env_get "$STATE.new" BROKER_PORT_1)" >> "$STATE.new"
  mv "$STATE.new" "$STATE"
}

node_launch() { # ID: start node ID in the background (no wait)
  local id=$1
  node_pid "$id" >/dev/null && return 0
  # HF_KAFKA_NODE_HEAP: each node's heap (default -Xmx384m; the machine is small).
  # The C1 compiler only and the serial collector: N JVMs on 2 cores start
  # faster and leave CPU to the clients; a test cluster needs no peak speed.
  # shellcheck disable=SC2086
  setsid nohup java "${HF_KAFKA_NODE_HEAP:--Xmx384m}" -Xms128m ${HF_KAFKA_NODE_JVM_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC} -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$KDIR/node$id/server.properties" \
    >>"$KDIR/node$id/server.log" 2>&1 </dev/null &
  echo $! > "$KDIR/node$id/pid"
}

node_wait_up() { # ID DEADLINE(SECONDS value)
  local id=$1 deadline=$2 port
  port=$(node_port "$id")
  until broker_answers "$port"; do
    if ! node_pid "$id" >/dev/null || (( SECONDS >= deadline )); then
      tail -n 40 "$KDIR/node$id/server.log" >&2 || true
      hf_die "Kafka node $id did not come up on 127.0.0.1:$port (full log: $KDIR/node$id/server.log)"
    fi
    sleep 0.5
  done
}

cluster_write_env() {
  printf 'HF_KAFKA_BOOTSTRAP=%s\nHF_KAFKA_VERSION=%s\nHF_KAFKA_NODES=%s\n' \
    "$(cluster_bootstrap)" "$KAFKA_VERSION" "$(nodes)" > "$ENV_FILE"
  cat "$ENV_FILE"
}

check_node_id() { # ID
  is_cluster || hf_die "no cluster in $KDIR (run start-cluster first)"
  [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= 1 && $1 <= $(nodes) )) || hf_die "node id must be 1-$(nodes), got '$1'"
}

cmd_start_cluster() { # N
  local n=${1:-3} i reuse=1 deadline brokers
  [[ $n =~ ^[0-9]+$ ]] && (( n >= 1 && n <= 9 )) || hf_die "NODES must be 1-9, got '$n'"
  command -v kcat >/dev/null || hf_die "kcat not found (apt-get install kcat)"
  cmd_fetch
  running_pid >/dev/null && hf_die "a single-node broker runs in $KDIR; stop it first"
  if [[ $(hf_env_get "$STATE" NODES 2>/dev/null) == "$n" && $(hf_env_get "$STATE" VERSION) == "$KAFKA_VERSION" ]]; then
    for i in $(seq 1 "$n"); do
      node_pid "$i" >/dev/null && continue
      [[ -f $KDIR/node$i/data/meta.properties ]] || reuse=0
      hf_port_open 127.0.0.1 "$(node_port "$i")" && reuse=0
      hf_port_open 127.0.0.1 "$(hf_env_get "$STATE" "CONTROLLER_PORT_$i")" && reuse=0
    done
  else
    reuse=0
  fi
  if ((reuse)); then
    hf_log "reusing $KDIR ($n nodes)"
  else
    for i in $(seq 1 9); do [[ -f $KDIR/node$i/pid ]] && node_pid "$i" >/dev/null && hf_die "node $i of an old cluster still runs in $KDIR; stop it first"; done
    cluster_fresh_setup "$n"
  fi
  hf_log "starting a $n-node Kafka $KAFKA_VERSION cluster on $(cluster_bootstrap) (logs: $KDIR/node*/server.log)"
  for i in $(seq 1 "$n"); do node_launch "$i"; done
  deadline=$((SECONDS + START_TIMEOUT * 2))
  for i in $(seq 1 "$n"); do node_wait_up "$i" "$deadline"; done
  # every node registered with the controller, so topics get all their replicas
  until brokers=$(kcat -b "$(cluster_bootstrap)" -L -m 5 2>/dev/null | sed -n 's/^ *\([0-9]*\) brokers:.*/\1/p') \
        && [[ $brokers == "$n" ]]; do
    (( SECONDS < deadline )) || hf_die "only ${brokers:-0} of $n nodes registered within $((START_TIMEOUT * 2))s"
    sleep 0.5
  done
  hf_log "Kafka cluster up after ${SECONDS}s"
  cluster_write_env
}

node_stop() { # ID: SIGTERM, 30 s, then SIGKILL
  local pid
  pid=$(node_pid "$1") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    [[ -d /proc/$pid ]] || break
    sleep 0.5
  done
  if [[ -d /proc/$pid ]]; then
    hf_log "node $1 (pid $pid) ignored SIGTERM for 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while [[ -d /proc/$pid ]]; do sleep 0.1; done
  fi
  rm -f "$KDIR/node$1/pid"
}

cmd_kill_node() { # ID
  local pid
  check_node_id "$1"
  pid=$(node_pid "$1") || hf_die "node $1 is not running"
  kill -KILL "$pid"
  while [[ -d /proc/$pid ]]; do sleep 0.1; done
  rm -f "$KDIR/node$1/pid"
  hf_log "node $1 (pid $pid) killed with SIGKILL"
}

cmd_stop_node() { check_node_id "$1"; node_stop "$1"; hf_log "node $1 stopped"; }

cmd_start_node() { # ID
  check_node_id "$1"
  if node_pid "$1" >/dev/null; then hf_log "node $1 already running"; return 0; fi
  node_launch "$1"
  node_wait_up "$1" $((SECONDS + START_TIMEOUT))
  hf_log "node $1 up on 127.0.0.1:$(node_port "$1") after ${SECONDS}s"
}

cmd_cluster_stop() {
  local i any=0
  # all at once: one by one, the last nodes wait for a controller quorum that is gone
  for i in $(seq 1 "$(nodes)"); do
    if node_pid "$i" >/dev/null; then any=1; node_stop "$i" & fi
  done
  wait
  if ((any)); then hf_log "Kafka cluster stopped"; else hf_log "Kafka cluster not running"; fi
}

cmd_cluster_status() {
  local i rc=0 pid port
  for i in $(seq 1 "$(nodes)"); do
    port=$(node_port "$i")
    if pid=$(node_pid "$i") && broker_answers "$port"; then
      hf_log "node $i running (pid $pid, 127.0.0.1:$port)"
    else
      hf_log "node $i not running"; rc=1
    fi
  done
  return "$rc"
}

# cluster metadata of the live nodes, kcat's text form
cluster_metadata() { # [TOPIC]
  local args=(-b "$(cluster_bootstrap)" -L -m 10)
  [[ -n ${1:-} ]] && args+=(-t "$1")
  kcat "${args[@]}" 2>/dev/null
}

cmd_leader() { # TOPIC PARTITION
  local leader
  is_cluster || [[ -f $STATE ]] || hf_die "no Kafka state in $KDIR"
  leader=$(cluster_metadata "$1" \
    | sed -n "s/^ *partition $2, leader \\(-\\?[0-9]*\\),.*/\\1/p" | head -n 1)
  [[ -n $leader ]] || hf_die "no partition $2 of topic $1 in the metadata"
  echo "$leader"
}

# every partition of every topic has a leader and all its replicas in sync
isr_complete() {
  cluster_metadata | python3 -c '
import re, sys
rows = [l for l in sys.stdin if re.match(r"\s*partition \d+, leader", l)]
bad = 0
for l in rows:
    m = re.search(r"leader (-?\d+), replicas: ([\d,]*), isrs: ([\d,]*)", l)
    if not m or m.group(1) == "-1" or len(m.group(2).split(",")) != len(m.group(3).split(",")):
        bad += 1
sys.exit(1 if bad or not rows else 0)'
}

cmd_wait_isr() { # [SECONDS]
  local t=${1:-120} deadline
  is_cluster || hf_die "no cluster in $KDIR (run start-cluster first)"
  deadline=$((SECONDS + t))
  until isr_complete; do
    (( SECONDS < deadline )) || { cluster_metadata | grep -E 'partition|brokers' >&2; hf_die "replicas not in sync within ${t}s"; }
    sleep 0.5
  done
  hf_log "every partition has a leader and a full ISR"
}

sub=${1:-}; [[ -n $sub ]] || usage; shift
case $sub in
  fetch)   cmd_fetch ;;
  version) echo "$KAFKA_VERSION" ;;
  start)   set_workdir "${1:-}"
           if is_cluster; then
             for i in $(seq 1 "$(nodes)"); do node_pid "$i" >/dev/null && hf_die "a cluster runs in $KDIR: stop it first"; done
           fi
           cmd_start ;;
  stop)    set_workdir "${1:-}"; if is_cluster; then cmd_cluster_stop; else cmd_stop; fi ;;
  restart) set_workdir "${1:-}"
           if is_cluster; then cmd_cluster_stop; cmd_start_cluster "$(nodes)"; else cmd_stop; cmd_start; fi ;;
  status)  set_workdir "${1:-}"; if is_cluster; then cmd_cluster_status; else cmd_status; fi ;;
  start-cluster)
    (( $# >= 1 && $# <= 2 )) || usage
    set_workdir "$1"; cmd_start_cluster "${2:-3}" ;;
  kill-node|stop-node|start-node)
    (( $# == 2 )) || usage
    set_workdir "$1"; "cmd_${sub//-/_}" "$2" ;;
  leader)
    (( $# == 3 )) || usage
    set_workdir "$1"; cmd_leader "$2" "$3" ;;
  wait-isr)
    (( $# >= 1 && $# <= 2 )) || usage
    set_workdir "$1"; cmd_wait_isr "${2:-120}" ;;
  create-topic)
    (( $# == 3 )) || usage
    set_workdir "$1"; cmd_create_topic "$2" "$3" ;;
  topics)
    (( $# >= 2 )) || usage
    set_workdir "$1"; shift
    for spec in "$@"; do
      [[ $spec == *:* ]] || hf_die "topic spec must be NAME:PARTITIONS, got '$spec'"
      cmd_create_topic "${spec%%:*}" "${spec##*:}"
    done ;;
  tool)
    (( $# >= 1 )) || usage
    [[ -f $MARKER ]] || hf_die "Kafka $KAFKA_VERSION jars not fetched: run deploy/kafka.sh fetch"
    kjava -Xmx256m "$@" ;;
  consumer-groups)
    [[ -f $MARKER ]] || hf_die "Kafka $KAFKA_VERSION jars not fetched: run deploy/kafka.sh fetch"
    kjava -Xmx256m org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@" ;;
  *) usage ;;
esac
