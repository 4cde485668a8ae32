// Scheduler activation under CPU overcommit (seed 003 4.2, Figure 2): a host-scheduler model applied to the
// request timeline of a recorded trace. Nothing here reads a host clock or a random source: the same
// requests and parameters give the same numbers.
//
// What comes from the trace (requestTimeline, src/analyses/hyperupcalls.ts): the server's requests in
// order, each one's kind (the memcached command), its service time on the vCPU in guest time (modelled
// cycles from the NIC's interrupt injection to the reply's transmit, guest instructions and the
// hypervisor's exit work included, over the TSC rate), and whether the packet-received hyperupcall called
// priority_boost for it, with the weight and duration the program passed.
//
// The model (docs/hyperupcalls.md "Scheduler activation"): one pCPU shared by the VM's single vCPU and k
// always-runnable competitors (iperf-like) in a proportional-share scheduler:
//  - stride scheduling (Waldspurger): each entity's pass advances by run time x 10 / weight; at each
//    decision the entity with the lowest pass runs for a quantum (3 ms; ties go to the competitors, in
//    order, then the vCPU); competitors weigh 10, the vCPU 10 or, while a boost is active, the boost's weight
//    (the paper: cpu.weight 10 -> 100 for 100 ms);
//  - the vCPU never blocks (an idle vCPU polls, as KVM's halt polling keeps a vCPU thread on the CPU across
//    short idle periods), so it competes for its share all the time and serves requests only while on the
//    CPU, one at a time, first come first served;
//  - a boost call (at the packet's arrival, in the hypervisor, the vCPU need not be running) sets the
//    weight until arrival + duration (a later boost extends it) and is a scheduling point: the vCPU preempts
//    the running competitor if its pass is now the lowest, ties included ("scheduler activation"); without the hyperupcall
//    the weight stays 10 and nothing preempts;
//  - the client (memcslap) sends the next request when the previous reply arrives: request i reaches the VM
//    one client round trip after reply i-1 left it; the first reaches it at t = 0, when competitor 0 starts
//    a quantum (all passes 0).
// Runtime of the batch = last reply - first arrival + one round trip. Only the shape of Figure 2 is
// claimed (runtime growing with overcommit without boost, nearly flat with it), not the paper's times.

export interface SchedRequest {
  /** The memcached command (get, set, delete, ...). */
  kind: string;
  /** CPU time the vCPU needs for it, microseconds of guest time. */
  serviceUs: number;
  /** The priority_boost call the hyperupcall made for it, or null. */
  boost: { weight: number; durationUs: number } | null;
}

export interface SchedParams {
  /** Scheduling quantum, us (3 ms). */
  sliceUs: number;
  /** From a reply leaving the VM to the next request reaching it (network + client), us. */
  rttUs: number;
  /** Weight of the competitors and of the unboosted vCPU (10, the paper's default cpu.weight). */
  baseWeight: number;
}

export const DEFAULT_SCHED_PARAMS: SchedParams = { sliceUs: 3000, rttUs: 100, baseWeight: 10 };

export interface SchedRun {
  runtimeUs: number;
  /** Requests that arrived while a boost was active. */
  boostedRequests: number;
  /** Sum over requests of the time from arrival to the start of service, us. */
  waitUs: number;
}

/** Simulate the batch with `k` competitors; `withBoost` applies the trace's boost calls. */
export function simulate(reqs: readonly SchedRequest[], k: number, withBoost: boolean, p: SchedParams = DEFAULT_SCHED_PARAMS): SchedRun {
  if (reqs.length === 0) return { runtimeUs: 0, boostedRequests: 0, waitUs: 0 };
  const W = p.baseWeight;
  const pass = new Float64Array(k); // competitors
  let vPass = 0;
  let boostWeight = W;
  let boostEnd = -Infinity;
  const vWeight = (t: number): number => (t < boostEnd ? boostWeight : W);
  // running: -1 = the vCPU, 0..k-1 a competitor
  let running = k > 0 ? 0 : -1;
  let quantumEnd = p.sliceUs;
  let t = 0;
  let next = 0; // the request that arrives next / is being served
  let arrival = 0; // arrival time of request `next`
  let arrived = false;
  let remaining = 0;
  let started = false;
  let boostedRequests = 0;
  let waitUs = 0;
  let lastReply = 0;

  const decide = (): void => {
    // Lowest pass runs; ties: competitors in order, then the vCPU.
    let best = -1;
    let bestPass = vPass;
    for (let i = k - 1; i >= 0; i--) if (pass[i]! <= bestPass) { best = i; bestPass = pass[i]!; }
    running = best;
    quantumEnd = t + p.sliceUs;
  };

  for (let guard = 0; next < reqs.length; guard++) {
    if (guard > 50_000_000) throw new Error('scheduler model did not converge');
    // next event
    let te = quantumEnd;
    if (!arrived) te = Math.min(te, arrival);
    else if (running === -1) te = Math.min(te, t + remaining);
    if (t < boostEnd) te = Math.min(te, boostEnd);
    const dt = te - t;
    if (running === -1) {
      vPass += (dt * W) / vWeight(t);
      if (arrived) {
        if (!started) {
          started = true;
          waitUs += t - arrival;
        }
        remaining -= dt;
      }
    } else {
      pass[running] = pass[running]! + dt; // competitors weigh W: dt x W / W
    }
    t = te;
    // events at t, in a fixed order
    if (arrived && running === -1 && remaining <= 1e-9) {
      lastReply = t;
      next++;
      arrived = false;
      started = false;
      arrival = t + p.rttUs;
      if (next >= reqs.length) break;
    }
    if (!arrived && t >= arrival) {
      arrived = true;
      const r = reqs[next]!;
      remaining = r.serviceUs;
      const active = t < boostEnd;
      if (withBoost && r.boost !== null) {
        boostWeight = r.boost.weight;
        boostEnd = Math.max(boostEnd, t + r.boost.durationUs);
        // scheduler activation: a scheduling point; the vCPU preempts if its pass is now the lowest (it wins ties)
        if (running !== -1 && vPass <= pass[running]!) {
          let lowest = true;
          for (let i = 0; i < k; i++) if (pass[i]! < vPass) lowest = false;
          if (lowest) {
            running = -1;
            quantumEnd = t + p.sliceUs;
          }
        }
      }
      if (t < boostEnd || active) boostedRequests++;
    }
    if (t >= quantumEnd) decide();
  }
  return { runtimeUs: lastReply + p.rttUs, boostedRequests, waitUs };
}

export interface SchedPoint {
  /** Runnable entities per pCPU: the vCPU and overcommit - 1 competitors. */
  overcommit: number;
  baseMs: number;
  boostedMs: number;
  /** base / boosted (the ratio Figure 2 prints above its lines). */
  ratio: number;
  boostedRequests: number;
  baseWaitMs: number;
  boostedWaitMs: number;
}

/** Figure 2's series: overcommit levels 1..maxOvercommit, without and with the trace's boosts. */
export function schedulerSeries(reqs: readonly SchedRequest[], maxOvercommit: number, p: SchedParams = DEFAULT_SCHED_PARAMS): SchedPoint[] {
  const out: SchedPoint[] = [];
  for (let level = 1; level <= maxOvercommit; level++) {
    const base = simulate(reqs, level - 1, false, p);
    const boosted = simulate(reqs, level - 1, true, p);
    out.push({
      overcommit: level, baseMs: base.runtimeUs / 1000, boostedMs: boosted.runtimeUs / 1000, ratio: base.runtimeUs / boosted.runtimeUs,
      boostedRequests: boosted.boostedRequests, baseWaitMs: base.waitUs / 1000, boostedWaitMs: boosted.waitUs / 1000,
    });
  }
  return out;
}
