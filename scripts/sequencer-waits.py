#!/usr/bin/env python3
# Where the sequencer stood still between batches, from the server log of a load run with
# LOADGEN_SERVER_LOG=warn,insyn_store=debug: waits for the next batch's signature checks (a batch
# was ahead), gathering a batch when none was (fresh), and whole-WAL checkpoint waits. The first
# fifth of the run is left out as warm-up.
# Usage: scripts/sequencer-waits.py DATA_DIR.server.log
import sys,re
def ms(s):
    m=re.match(r'([0-9.]+)(ms|µs|s|ns)',s)
    v=float(m.group(1)); u=m.group(2)
    return {'ms':v,'µs':v/1000,'s':v*1000,'ns':v/1e6}[u]
taken=[];wal=[]
for l in open(sys.argv[1]):
    l=re.sub(r'\x1b\[[0-9;]*m','',l)
    d=dict(re.findall(r'(\w+)=(\S+)',l))
    if 'batch taken' in l: taken.append((d['ahead_ready']=='true',ms(d['waited']),int(d['batch'])))
    if 'checkpointed the whole WAL' in l: wal.append(ms(d['waited']))
taken=taken[len(taken)//5:]
ready=[w for r,w,_ in taken if r]; fresh=[w for r,w,_ in taken if not r]
print('batches',len(taken),'ahead ready',len(ready),'fresh',len(fresh))
print('wait with ahead: total %.0f ms, p50 %.2f p90 %.2f max %.2f'%(sum(ready),sorted(ready)[len(ready)//2],sorted(ready)[len(ready)*9//10],max(ready)))
if fresh: print('wait fresh: total %.0f ms, p50 %.2f max %.2f, avg batch %.0f'%(sum(fresh),sorted(fresh)[len(fresh)//2],max(fresh),sum(b for r,_,b in taken if not r)/len(fresh)))
print('WAL waits: n %d total %.0f ms max %.1f'%(len(wal),sum(wal),max(wal) if wal else 0))
