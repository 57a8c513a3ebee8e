#!/bin/sh
# Stage 2: keep the most frequent words of a .counts file from stage 1.
# TOP (default 10) sets how many.
set -eu
name=$(basename "$INPUT_FILE_PATH")
name=${name%.counts}
out="$TMP_OUTPUT_DIR/$name.top${TOP:-10}.txt"
sort -k1,1nr -k2,2 "$INPUT_FILE_PATH" | head -n "${TOP:-10}" > "$out"
echo "Top ${TOP:-10} words of ${STORAGE_OBJECT_KEY:-the request payload}:"
cat "$out"
