#!/bin/sh
# A row of frames with their predicted masks over them (red, half transparent): every 6th frame and
# the last. usage: sh scripts/seg-grid.sh FRAMES_DIR MASKS_DIR OUT.png [frames, default 24]
set -eu
FRAMES=${1:?usage: seg-grid.sh FRAMES_DIR MASKS_DIR OUT.png [frames]}
MASKS=${2:?}
OUT=${3:?}
N=${4:-24}
ffmpeg -v error -y -framerate 10 -start_number 0 -i "$FRAMES/%05d.jpg" -framerate 10 -start_number 0 -i "$MASKS/%05d.png" -filter_complex "\
[1:v]format=rgba,colorkey=black:0.01:0,lutrgb=r=255:g=0:b=0,colorchannelmixer=aa=0.45[m];\
[0:v][m]overlay,select='not(mod(n\,6))+eq(n\,$((N - 1)))',tile=5x1:padding=4:color=white" -frames:v 1 -update 1 "$OUT"
