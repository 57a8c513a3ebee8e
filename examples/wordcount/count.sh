#!/bin/sh
# Stage 1: count the words of the uploaded text file.
# Writes "<count> <word>" lines, most frequent first, to <name>.counts.
set -eu
name=$(basename "$INPUT_FILE_PATH")
name=${name%.*}
out="$TMP_OUTPUT_DIR/$name.counts"
# STORAGE_OBJECT_KEY is set when an upload started the job, not for a
# synchronous run or a job started with a payload.
echo "Counting words of ${STORAGE_OBJECT_KEY:-the request payload}"
tr -cs 'A-Za-z0-9' '\n' < "$INPUT_FILE_PATH" \
	| tr 'A-Z' 'a-z' \
	| awk 'NF' \
	| sort \
	| uniq -c \
	| sort -k1,1nr -k2,2 \
	| awk '{print $1, $2}' > "$out"
echo "$(wc -l < "$out" | tr -d ' ') distinct words"
