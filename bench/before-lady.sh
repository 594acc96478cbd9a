# Sourced by the bench scripts that compare with another build (BEFORE_BUILD_DIR).
# write_before_lady DIR: writes ./before-lady, a launcher that runs the build in DIR (its lady.jar and
# classpath.txt) as ./lady runs the current one.
write_before_lady() {
  local before="$1"
  cat > before-lady <<SH
#!/usr/bin/env bash
export OPENBLAS_NUM_THREADS=1 THP_MEM_ALLOC_ENABLE="\${THP_MEM_ALLOC_ENABLE:-1}"
exec java \${LADY_JAVA_OPTS:--Xmx8g} -cp "$before/lady.jar:$(cat "$before/classpath.txt")" lady.cli.Main "\$@"
SH
  chmod +x before-lady
}
