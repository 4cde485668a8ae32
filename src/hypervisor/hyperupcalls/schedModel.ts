// Scheduler activation under CPU overcommit (seed 003 4.2, Figure 2), modelled. NOT a simulation of a host
// scheduler: a deterministic model of one pCPU shared by the VM's single vCPU and `k` competing runnable
// tasks (iperf-like, always busy) under a proportional-share scheduler with fixed slices.
//  - Without boost all entities have weight 10; a round of the run queue gives each a slice proportional
//    to its weight (a CFS-like period of `slice x entities`), so the vCPU waits for the k others' slices.
//  - With the packet-received hyperupcall, a matching packet calls priority_boost (weight 100 for 100 ms,
//    the paper's values): a boosted vCPU that becomes runnable preempts at once (wake-up preemption) and
//    its share of each period is 100 / (100 + 10k).
//  - The server needs `serviceUs` of CPU per request (taken from the guest run: instructions the server
//    executed per request / TSC rate); requests arrive as a burst of 100 (memcslap's batch, Figure 2), each
//    sent when the previous answer returns.
// Output: runtime of 100 requests vs overcommit level, with and without boost. Only the shape (slowdown
// growing with overcommit without boost, nearly flat with it) is claimed, not the paper's absolute times.

export interface SchedPoint {
  overcommit: number;
  baseMs: number;
  boostedMs: number;
  ratio: number;
}

export interface SchedParams {
  serviceUs: number;
  requests: number;
  sliceUs: number;
  /** Time from an answer to the next request (network + client), us. */
  rttUs: number;
}

/**
 * Runtime of `requests` sequential requests with k competitors, boosted or not. Deterministic: the wake-up
 * wait of request i is a fixed fraction (a Weyl sequence) of the competitors' part of the period.
 */
export function runtimeUs(p: SchedParams, k: number, boosted: boolean): number {
  const wVm = boosted ? 100 : 10;
  const share = wVm / (wVm + 10 * k); // the vCPU's proportional share while the k competitors are runnable
  let t = 0;
  for (let i = 0; i < p.requests; i++) {
    t += p.rttUs;
    if (!boosted && k > 0) t += (((i * 0.6180339887) % 1) * k * p.sliceUs); // wait for the others' slices
    t += p.serviceUs / share; // fluid service at its share
  }
  return t;
}

export function schedulerSeries(p: SchedParams, levels: readonly number[]): SchedPoint[] {
  return levels.map((k) => {
    const base = runtimeUs(p, k, false) / 1000;
    const boosted = runtimeUs(p, k, true) / 1000;
    return { overcommit: k + 1, baseMs: base, boostedMs: boosted, ratio: base / boosted };
  });
}
