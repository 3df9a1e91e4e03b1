#!/usr/bin/env python3
"""Shrink onnxruntime-gpu's libonnxruntime_providers_cuda.so for a single GPU arch.

Nearly all of the library (~219 of 284 MB in 1.31.1) is the `.nv_fatbin` ELF
section: 609 concatenated CUDA fat binaries, each holding one zstd-compressed
cubin per SM architecture (75/80/86/89/90a/120 in 1.31.1; no PTX at all).
A given GPU only ever loads the cubin for its own arch, so we zero the payloads
of all other entries.  Every offset, size and the ELF layout stay byte-identical;
the zeros vanish under xz.  Output is a plain .xz file, so on the target:
    xz -dc OUT.so.xz > libonnxruntime_providers_cuda.so      (or python3 lzma)

Layout (found empirically, little endian), per fat binary:
  header (16 B):  u32 magic 0xBA55ED50 | u16 version | u16 header_size | u64 fat_size
  then entries tiling exactly `fat_size` bytes, each:
    +0 u16 kind (1=PTX, 2=ELF cubin)  +2 u16 version   +4 u32 header_size (64; 112 for sm_120)
    +8 u64 payload_size (padded)      +16 u32 compressed_size
    +24 u16,u16 (8,1)  +28 u32 arch (e.g. 90)  +40 u64 flags (0x8000: zstd payload)
    +56 u64 uncompressed_size;  payload follows the entry header.

Usage:
  shrink_cuda_provider.py IN.so OUT.so.xz --keep-sm 90 [--drop-kernels REGEX]
  shrink_cuda_provider.py --verify FILE.so[.xz]
"""
import argparse, collections, lzma, re, struct, subprocess, sys

FATBIN_MAGIC = 0xBA55ED50
FAT_HDR = struct.Struct('<IHHQ')
ENTRY = struct.Struct('<HHIQIIHHIIIQQQ')
KINDS = {1: 'PTX', 2: 'ELF'}
ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
# Arch written into sm_XX entries dropped by --drop-kernels: a real arch that an
# sm_90 device can never load, so the driver reports "no kernel image" for that
# module (as on any unsupported GPU) instead of decoding our zeros.
DEAD_ARCH = 75


def fatbin_section(buf):
    """(file offset, size) of the .nv_fatbin section of an ELF64 LE file."""
    assert buf[:6] == b'\x7fELF\x02\x01', 'not an ELF64 little-endian file'
    shoff, = struct.unpack_from('<Q', buf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', buf, 0x3a)
    sec = lambda i: struct.unpack_from('<IIQQQQ', buf, shoff + i * shentsize)
    strtab_off = sec(shstrndx)[4]
    for i in range(shnum):
        name, _, _, _, off, size = sec(i)
        end = buf.index(b'\0', strtab_off + name)
        if buf[strtab_off + name:end] == b'.nv_fatbin':
            return off, size
    sys.exit('no .nv_fatbin section')


def entries(buf):
    """Yield (fatbin_no, entry_offset, header_size, payload_size, n_entries_in_fatbin, fields)."""
    off, size = fatbin_section(buf)
    p, end_sec, fb = off, off + size, 0
    while p < end_sec:
        magic, _, hs, fat_size = FAT_HDR.unpack_from(buf, p)
        if magic != FATBIN_MAGIC:           # tolerate zero padding between fatbins
            assert not any(buf[p:p + 8]), 'bad fatbin magic at 0x%x' % p
            p += 8
            continue
        q, end, ents = p + hs, p + hs + fat_size, []
        while q < end:
            f = ENTRY.unpack_from(buf, q)
            assert f[0] in KINDS, 'unknown entry kind %d at 0x%x' % (f[0], q)
            ents.append((q, f))
            q += f[2] + f[3]
        assert q == end, 'entries do not tile fatbin %d' % fb
        for q, f in ents:
            yield fb, q, f[2], f[3], len(ents), f
        p, fb = end, fb + 1


def kernel_names(payload, csz):
    """Kernel names in a (zstd-compressed) cubin; needs the `zstd` CLI here."""
    raw = payload[:csz] if payload[:4] == ZSTD_MAGIC else payload
    if raw[:4] == ZSTD_MAGIC:
        raw = subprocess.run(['zstd', '-dcq'], input=bytes(raw), capture_output=True,
                             check=True).stdout
    return {m.decode(errors='replace')[6:] for m in re.findall(rb'\.text\.[^\0]+', raw)}


def table(buf, title):
    """Print bytes per (kind, arch): entries, live payload bytes, zeroed payload bytes."""
    t = collections.defaultdict(lambda: [0, 0, 0])
    fatbins = set()
    for fb, q, hs, psz, _, f in entries(buf):
        fatbins.add(fb)
        payload = buf[q + hs:q + hs + psz]
        live = any(payload)
        if live and f[0] == 2:              # a live cubin must look like zstd or ELF
            assert payload[:4] in (ZSTD_MAGIC, b'\x7fELF'), 'corrupt cubin at 0x%x' % q
        row = t[(KINDS[f[0]], f[8])]
        row[0] += 1
        row[1 if live else 2] += psz
    print('%s: %d fatbins' % (title, len(fatbins)))
    print('  kind  arch  entries     live_bytes   zeroed_bytes')
    for (kind, arch), (n, live, dead) in sorted(t.items()):
        print('  %-4s  %4d  %7d  %13d  %13d' % (kind, arch, n, live, dead))
    print('  total live %d, zeroed %d' % (sum(r[1] for r in t.values()),
                                          sum(r[2] for r in t.values())))


def read(path):
    with (lzma.open if path.endswith('.xz') else open)(path, 'rb') as fh:
        return bytearray(fh.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('input')
    ap.add_argument('output', nargs='?')
    ap.add_argument('--keep-sm', type=int, action='append',
                    help='SM arch whose cubins are kept (repeatable), e.g. 90')
    ap.add_argument('--keep-ptx', action='store_true', help='also keep all PTX entries')
    ap.add_argument('--drop-kernels', metavar='REGEX',
                    help='also drop kept cubins with a kernel matching REGEX '
                         '(cub EmptyKernel ignored); needs zstd CLI')
    ap.add_argument('--verify', action='store_true', help='only print the per-arch table')
    a = ap.parse_args()
    buf = read(a.input)
    if a.verify:
        return table(buf, a.input)
    if not (a.output and a.keep_sm):
        ap.error('need OUTPUT and --keep-sm (or --verify)')
    drop_re = re.compile(a.drop_kernels) if a.drop_kernels else None
    dropped = 0
    for fb, q, hs, psz, n, f in entries(buf):
        kind, arch, csz = f[0], f[8], f[4]
        keep = (kind == 2 and arch in a.keep_sm) or (kind == 1 and a.keep_ptx)
        if keep and drop_re:
            names = [k for k in kernel_names(buf[q + hs:q + hs + psz], csz)
                     if 'EmptyKernel' not in k]
            if any(drop_re.search(k) for k in names):
                keep, dropped = False, dropped + 1
                struct.pack_into('<I', buf, q + 28, DEAD_ARCH)   # make it unloadable
        if not keep:
            buf[q + hs:q + hs + psz] = bytes(psz)
    if drop_re:
        print('dropped %d kept-arch entries matching %r' % (dropped, a.drop_kernels))
    table(buf, 'pruned')
    if a.output.endswith('.xz'):
        with lzma.open(a.output, 'wb', preset=9 | lzma.PRESET_EXTREME) as fh:
            fh.write(buf)
    else:
        open(a.output, 'wb').write(buf)
    print('wrote', a.output)


if __name__ == '__main__':
    main()
