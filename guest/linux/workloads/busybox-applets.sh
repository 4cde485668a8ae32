# busybox-applets: Debian's busybox applets beyond busybox-shell's, for the CPU paths they take: compressors
# (gzip, bzip2, lzop, and xz decompression), hashes (md5, sha1, sha256, sha512, sha3, crc32), 64-bit arithmetic (factor, expr,
# $((...))), dumps of floats (od -t f8/f4), awk's rand and float printing, date formatting, bc's and dc's
# arbitrary precision, sleep. Usage: busybox sh busybox-applets.sh N. Every line printed is deterministic
# (no paths, uids or times in it); test/linux-busybox.test.ts compares them with the host's busybox.
exec 2>&1
n=${1:-2000}
d=${TMPDIR:-/tmp}/bba.$$
mkdir -p "$d" && cd "$d" || exit 1
echo "bba: $n numbers"
seq 1 "$n" > n
gzip -9 -c n | md5sum
gzip -c n | gunzip -c | md5sum
bzip2 -c n | md5sum
bzip2 -c n | bunzip2 -c | md5sum
# busybox's xz only decompresses: seq 1 2000 compressed by the host's xz -9 --check=crc64 (CRC64 check).
base64 -d > x.xz <<'XZ'
/Td6WFoAAATm1rRGAgAhARwAAAAQz1jM4CK8A3RdABiCgo8iTvimVffwmaUlDZBFkVpRtJvKrNwF
MuyFUp+xSG3v3OhLuWG64JxTf5jIqVQO/D0q0wbXZkQ9VmSmzT3Xxx9E9BjfAgs/4sbGe+Hnf3lE
HHm3Qq5luBu1DoThmoIGIzlaf3KqQ/qlmh+SwL5FcXlK1ZPGkAo5rZxlhyq2GjjH4ZMXytA+Ceqw
UvAQYCbAXl8QkQ25eXh9l0Jg0KY4d+Ej6LsoT4hSLXVYJj9m/eKc69OvYdk1ev/7YrE8fJMc8mS4
TRyFKrFcAAY2AUrrvAVI71xotTxxgZ4sbORnBs+FKnUJGYy8F0QNzTxpxjbEnpzS7js1Ej6TUped
keFNVjFeyuWWgq9ADIWjSVbIkWpANfkU5FUtUTUkUoSAFyAtXAOMweh6LXV6XITE6Tf+hxp7RcSU
AOAYbZ+3J8KP2MwrTYBsqCN9xr0472fUEeIwmOP/QyESPWWjl2Esp+aPkecapktTI2MwWKFwPrGR
A2lPijaYbUSsckSgfta3pQb/7Tz3bendovwf7HoMJ2Hw9dvf4Ga/wVD7YFZmMqh4GMbugUKRydSe
QJKZKn7jZ88DoyDAw5BAOcjNFqzApW8eU0wP1nlKsIfXVyNIlWUhTomyhYQsvBCx2Xp2Yy2sJlWe
+ZRRjYnwoK+xDrTWUe0A1LFDs+t4u0Lxv1d5cA86eyevhEa8nr8BtfuIDHcV8qrG8yzmZvYcYG/T
aO+sz2kQGud4IN9of/q8tt/NGN4JAzg/UEB0eqkOolMDo78umZKx/HQqTAHLTIrxNCPGCmzhrx3x
/ynf1FMSMI+jwDlVZ7jIafaEjnl+mLe+L4PR+PWBZpcYWduFznN845SI5Ry79yA6rUBD285POdPl
Wkvrl5Q5WCQLR3T7xAxK6qSLVn3qMdkJ7S1pltw9bHTUmlQ6IxaI10ThvQBmoNViim33tZRt7Xp+
7kRqJRZdRRwdykYkR3AWk8swXtYF2WWlxCT2pVG3i2041rLMB2wspU2lhNGc57D2GyL1fCNvPQq3
eatTJg+cG3OSSosvaG8672Xe+zGbmRzgEiYxNNTophXpxUqcU/Xkd0e5lpbWxh1zDZj3hj8EObUX
WTp8pvclEl+vhaAayDyT/Gqc3dS7mHB7Hnnz+MeWwS7iGtAyQ2IFw9AksXM7HzZx0Q98GDmMblqh
QjoAAB+xid3m1/0EAAGQB71FAADix1r1scRn+wIAAAAABFla
XZ
xzcat x.xz | md5sum
lzop -c n | md5sum
sha1sum n
sha256sum n
sha512sum n
sha3sum n
crc32 n
factor 1234567890123 4294967291
expr 12345 \* 6789
echo $(( (1 << 62) / 7 )) $(( -9223372036854775807 - 1 )) $(( 7 % -3 ))
hexdump -C n | tail -n 3
xxd n | tail -n 2
od -t f8 n | head -n 3
od -t f4 -t x8 n | tail -n 2
base64 n | md5sum
uuencode x < n | md5sum
sort -R n | wc -l
sort -n -r n | head -n 2
shuf -n 1 n | wc -l
awk 'BEGIN { srand(7); printf "%.6f %.6f\n", rand(), rand() }'
awk 'BEGIN { x = 0.1; for (i = 0; i < 30; i++) x = x * 3.7 * (1 - x); printf "%.15g\n", x }'
awk 'BEGIN { printf "%d %s %s\n", 2147483648 * 4, 1e16 + 1, 0.1 + 0.2 }'
printf '%08.3f|%-8d|%x|%o|%c\n' -3.75 42 255 8 65
sleep 0.01
usleep 1000
date -u -d @1234567890 '+%Y-%m-%d %H:%M:%S %j %a'
date -u -d '2025-03-04 05:06:07' +%s
cal 2 2024 | md5sum
echo "obase=16; 2^100" | bc
echo "scale=50; e(1); l(2); s(1)" | bc -l
echo "10 k 2 v 3 ^ p" | dc
seq -w 0.1 0.3 2 | tr '\n' ' '
echo
seq -s , 10 | rev
echo hello world | tr a-z n-za-m | sed 's/\(.*\)/[\1]/'
printf 'b 2\na 1\n' > x
printf 'a x\nb y\n' > y
diff x y | tail -n +3
cmp x y > /dev/null; echo "cmp $?"
stat -c '%s %a' n
tar -cf - n x | tar -xOf - n | md5sum
cd / && rm -r "$d"
echo "bba: done"
