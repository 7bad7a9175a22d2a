# shellcheck shell=bash
# bench/peers/connect.sh — the kafka-connect contender of bench/run.sh (sourced).
# Apache Kafka Connect (connect-runtime, the broker's version), standalone
# worker, one task, Debezium's JDBC sink connector, all from Maven Central
# through bench/peers/connect/pom.xml, cached in build/connect-<version>/.
# Connect cannot read hemoflow's single-object Avro, so connect_prepare copies
# the records (not timed) into JSON-with-schemas topics
# (bench/peers/avro_to_connect_json.py); connect_run then times the worker
# from the first row visible to the last one.
#   connect_prepare SET...   fetch the jars, copy the topic sets
#   connect_run SET...       each SET into a fresh warehouse (one worker), a row per set
CONNECT_POM="$REPO/bench/peers/connect/pom.xml"
CONNECT_VERSION=$(sed -n 's:.*<connect.version>\(.*\)</connect.version>.*:\1:p' "$CONNECT_POM")
CONNECT_HOME="$REPO/build/connect-$CONNECT_VERSION"
CONNECT_WHY="" # set when the contender cannot run: the table says why

connect_fetch() {
  local broker
  broker=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$REPO/deploy/kafka/pom.xml")
  [[ $broker == "$CONNECT_VERSION" ]] || hf_log "WARNING: connect.version $CONNECT_VERSION differs from the broker's $broker"
  [[ -f $CONNECT_HOME/libs/.complete ]] && return 0
  hf_log "resolving Kafka Connect $CONNECT_VERSION + Debezium JDBC sink with Maven into $CONNECT_HOME/libs"
  rm -rf "$CONNECT_HOME/libs" "$CONNECT_HOME/libs.tmp"
  mkdir -p "$CONNECT_HOME"
  if ! mvn -B -f "$CONNECT_POM" -Dmaven.repo.local="$REPO/build/m2" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$CONNECT_HOME/libs.tmp" >"$CONNECT_HOME/maven.log" 2>&1; then
    CONNECT_WHY="Maven could not resolve Kafka Connect / the Debezium JDBC sink (see $CONNECT_HOME/maven.log)"
    return 1
  fi
  mv "$CONNECT_HOME/libs.tmp" "$CONNECT_HOME/libs"
  cat >"$CONNECT_HOME/log4j2.properties" <<'LOG'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_ERR
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.connect.name = org.apache.kafka.connect.runtime.WorkerSinkTask
logger.connect.level = INFO
LOG
  touch "$CONNECT_HOME/libs/.complete"
}

connect_prepare() {
  command -v java >/dev/null || { CONNECT_WHY="no java"; return 0; }
  command -v mvn >/dev/null || { CONNECT_WHY="no mvn"; return 0; }
  connect_fetch || return 0
  local set n
  for set in "$@"; do
    export HEMOFLOW_TOPIC_PREFIX="bench-$RUN_ID-$set-json."
    "$HF" topics --partitions "$HFB_PARTITIONS" >"$RUN/topics.$set-json.out" 2>&1 \
      || hf_die "topics: $(tail -3 "$RUN/topics.$set-json.out")"
    hf_log "copying the $set records into JSON-with-schemas topics for Kafka Connect (not timed)"
    n=$("$PY" "$REPO/bench/peers/avro_to_connect_json.py" --bootstrap "$HF_KAFKA_BOOTSTRAP" \
      --src-prefix "bench-$RUN_ID-$set." --dst-prefix "$HEMOFLOW_TOPIC_PREFIX" --schemas "$REPO/schemas/avro" \
      2>"$RUN/json.$set.err") || hf_die "avro_to_connect_json failed: $(tail -3 "$RUN/json.$set.err")"
    hf_log "  $n messages"
  done
}

# ins_rows DB: rows inserted so far, from the statistics (cheap to poll)
ins_rows() {
  sql "$1" "SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables WHERE schemaname = 'hemoflow' AND relname !~ '^hf_'"
}

# connect_run SET...: load each SET into its own fresh warehouse, one
# connector per set in ONE worker, and record a row per set. bench/run.sh
# passes one set at a time (each timed alone); --quick passes both, to start
# the JVM once (the rows are reconciled the same way; the times overlap). A
# set that does not get all its rows is recorded as FAILED and counted in
# HFB_FAILURES (bench/run.sh exits 1 after printing the table).
connect_run() {
  local sets=("$@") set db dir="$RUN/connect.${1}${2:+-$2}" pid n
  if [[ -n $CONNECT_WHY ]]; then
    for set in "${sets[@]}"; do record kafka-connect "$set" "" "" "" "" "" "" "not run: $CONNECT_WHY"; done
    return 0
  fi
  local -A cdb=() cwant=() cfirst=() clast=()
  mkdir -p "$dir"
  cat >"$dir/worker.properties" <<EOF
bootstrap.servers=$HF_KAFKA_BOOTSTRAP
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable=true
offset.storage.file.filename=$dir/offsets
plugin.discovery=only_scan
listeners=http://127.0.0.1:0
consumer.auto.offset.reset=earliest
EOF
  local sinks=() label topics t
  for set in "${sets[@]}"; do
    label="kc-$set"
    new_db "kc_$set"; db=$NEWDB
    cdb[$set]=$db
    cwant[$set]=$(json "$RUN/report.$set.json" "sum(r['expected_warehouse_rows'].values())")
    topics=""
    for t in $(sql "$db" "SELECT table_name FROM hemoflow.hf_fact_tables ORDER BY 1"); do
      topics+="${topics:+,}bench-$RUN_ID-$set-json.$t"
    done
    cat >"$dir/sink.$set.properties" <<EOF
name=bench-$RUN_ID-$label
connector.class=io.debezium.connector.jdbc.JdbcSinkConnector
tasks.max=1
topics=$topics
connection.url=jdbc:postgresql://$PGHOST_:$PGPORT_/$db?currentSchema=hemoflow&reWriteBatchedInserts=true
connection.username=$PGUSER_
connection.password=
insert.mode=upsert
primary.key.mode=record_value
primary.key.fields=province_code,event_date,event_id
schema.evolution=none
delete.enabled=false
batch.size=5000
# resends in one batch: without it the rewritten multi-row upsert fails
# ("cannot affect row a second time")
use.reduction.buffer=true
collection.name.format=\${topic}
transforms=route,coords
transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
transforms.route.regex=.*[.]([a-z_]+)
transforms.route.replacement=\$1
transforms.coords.type=org.apache.kafka.connect.transforms.InsertField\$Value
transforms.coords.partition.field=kafka_partition
transforms.coords.offset.field=kafka_offset
EOF
    sinks+=("$dir/sink.$set.properties")
  done
  for set in "${sets[@]}"; do quiesce "${cdb[$set]}"; done
  hf_log "kafka-connect (${sets[*]}) into ${cdb[*]}"
  # shellcheck disable=SC2086 # HFB_CONNECT_JAVA_OPTS: words for java
  /usr/bin/time -v -o "$dir/time" java -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true ${HFB_CONNECT_JAVA_OPTS:-} \
    -Dlog4j2.configurationFile="$CONNECT_HOME/log4j2.properties" -cp "$CONNECT_HOME/libs/*" \
    org.apache.kafka.connect.cli.ConnectStandalone "$dir/worker.properties" "${sinks[@]}" \
    >"$dir/out" 2>"$dir/err" &
  pid=$!; CHILDREN+=($pid)
  local t0=$SECONDS stalled=0 prev=-1 total left deadline=$((SECONDS + ${HFB_CONNECT_TIMEOUT:-3600}))
  while kill -0 "$pid" 2>/dev/null; do
    total=0 left=0
    for set in "${sets[@]}"; do
      if [[ -n ${clast[$set]:-} ]]; then total=$((total + cwant[$set])); continue; fi
      n=$(ins_rows "${cdb[$set]}")
      total=$((total + n))
      if ((n > 0)) && [[ -z ${cfirst[$set]:-} ]]; then cfirst[$set]=$(date +%s.%N); fi
      if ((n >= cwant[$set])); then clast[$set]=$(date +%s.%N); else left=1; fi
    done
    ((left == 0)) && break
    if ((total == prev)); then stalled=$((stalled + 1)); else stalled=0; fi
    prev=$total
    ((stalled > 120 || SECONDS > deadline)) && break # a minute without progress
    grep -q 'unrecoverable exception' "$dir/err" && break # a task died
    sleep 0.5
  done
  # stop the worker (the child of /usr/bin/time, which then writes its file)
  local jpid
  jpid=$(pgrep -P "$pid" java || true)
  [[ -n $jpid ]] && { kill "$jpid" 2>/dev/null || true; }
  wait "$pid" 2>/dev/null || true
  local rows cpu="" rss="" msgs note="JSON-with-schemas copies; first row visible -> last (+0.5 s); CPU incl. JVM start"
  ((${#sets[@]} > 1)) && note="one worker for ${sets[*]} (--quick: times overlap; CPU, RSS of the worker); $note"
  [[ -s $dir/time ]] && read -r cpu rss < <(time_stats "$dir/time")
  for set in "${sets[@]}"; do
    db=${cdb[$set]}
    if [[ -z ${clast[$set]:-} ]]; then
      n=$(ins_rows "$db")
      record kafka-connect "$set" "" "" "" "" "" "$(lastload)" \
        "FAILED or cut off after $((SECONDS - t0)) s: $n of ${cwant[$set]} rows; $(grep -m1 -E 'ERROR|Exception' "$dir/err" | cut -c1-160 | tr '|\t' '  ')"
      HFB_FAILURES=$((HFB_FAILURES + 1))
      continue
    fi
    rows=$(total_rows "$db")
    [[ $rows == "${cwant[$set]}" ]] || hf_die "kafka-connect: $db holds $rows rows, expected ${cwant[$set]}"
    msgs=$(json "$RUN/report.$set.json" "r['totals']['messages']" 2>/dev/null || echo "$rows")
    record kafka-connect "$set" "$msgs" "$rows" "$(python3 -c "print(f'{${clast[$set]} - ${cfirst[$set]} + 0.5:.3f}')")" \
      "$cpu" "$rss" "$(lastload)" "$note"
  done
}
