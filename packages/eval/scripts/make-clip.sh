#!/bin/sh
# A short real-photo clip with exact ground truth, made with ffmpeg only: a slow pan and zoom over
# a meadow photo, with a disc cut from a flower photo moving across it. Writes OUT/clip.mp4 and the
# DAVIS layout OUT/davis/JPEGImages/flower/*.jpg + Annotations/flower/*.png (white disc = object).
# Photos from the Debian package mate-backgrounds (GPL-2+): apt-get install mate-backgrounds
# usage: sh scripts/make-clip.sh OUT_DIR [frames, default 24]
set -eu
OUT=${1:?usage: make-clip.sh OUT_DIR [frames]}
N=${2:-24}
PHOTOS=${PHOTOS:-/usr/share/backgrounds/mate/nature}
for f in GreenMeadow.jpg YellowFlower.jpg; do
  [ -f "$PHOTOS/$f" ] || { echo "missing $PHOTOS/$f (apt-get install mate-backgrounds, or set PHOTOS)" >&2; exit 1; }
done
mkdir -p "$OUT/davis/JPEGImages/flower" "$OUT/davis/Annotations/flower"
# the disc's path (pixels, n = frame index), shared by the frame and its mask
X='30+9*n'
Y='60+30*sin(n/5)'
ffmpeg -v error -y -loop 1 -framerate 10 -i "$PHOTOS/GreenMeadow.jpg" -loop 1 -framerate 10 -i "$PHOTOS/YellowFlower.jpg" \
  -f lavfi -i color=black:s=384x224:r=10 -filter_complex "\
[0:v]scale=768:-2,zoompan=z='1.2+0.01*on':x='iw/2-iw/zoom/2+4*on':y='ih/2-ih/zoom/2':d=1:s=384x224:fps=10,format=rgb24[bg];\
[1:v]crop=1200:1200:1300:350,scale=96:96,format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lte(hypot(X-47.5,Y-47.5),46),255,0)',split[fg][fg2];\
[fg2]geq=r=255:g=255:b=255:a='alpha(X,Y)'[disc];\
[bg][fg]overlay=x='$X':y='$Y':format=rgb,format=yuv420p,split[v1][v2];\
[2:v][disc]overlay=x='$X':y='$Y',format=gray[m]" \
  -map '[v1]' -frames:v "$N" -c:v libx264 -crf 18 "$OUT/clip.mp4" \
  -map '[v2]' -frames:v "$N" -q:v 2 -start_number 0 "$OUT/davis/JPEGImages/flower/%05d.jpg" \
  -map '[m]' -frames:v "$N" -start_number 0 "$OUT/davis/Annotations/flower/%05d.png"
echo "$OUT/clip.mp4 and $OUT/davis (video 'flower', $N frames)"
