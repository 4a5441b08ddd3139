import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { Counter, Gauge, Histogram, register, Registry } from 'prom-client'

/**
 * Tessera's own Prometheus metrics, in a registry the node shares with libp2p's (pass `registry` to
 * `@libp2p/prometheus-metrics`), served as text on the control API's `/metrics`.
 */
export class NodeMetrics {
  readonly registry: Registry
  readonly jobsSubmitted: Counter
  readonly jobsCompleted: Counter
  readonly tasksCompleted: Counter<'role'>
  readonly tasksReassigned: Counter
  readonly verdicts: Counter<'outcome'>
  readonly servedChecks: Counter<'role'>
  readonly tokensPaid: Counter
  readonly capacityRecords: Gauge
  readonly taskSeconds: Histogram
  readonly blobsDeleted: Counter<'reason'>

  constructor(registry = new Registry()) {
    this.registry = registry
    const registers = [registry]
    this.jobsSubmitted = new Counter({
      name: 'tessera_jobs_submitted_total',
      help: 'Jobs ordered by this node',
      registers,
    })
    this.jobsCompleted = new Counter({
      name: 'tessera_jobs_completed_total',
      help: 'Jobs this node saw complete',
      registers,
    })
    this.tasksCompleted = new Counter({
      name: 'tessera_tasks_completed_total',
      help: 'Tasks completed, by role (creator counts accepted results, worker counts executed tasks)',
      labelNames: ['role'],
      registers,
    })
    this.tasksReassigned = new Counter({
      name: 'tessera_tasks_reassigned_total',
      help: 'Tasks auctioned again after a lost lease or a failed verification',
      registers,
    })
    this.verdicts = new Counter({
      name: 'tessera_verdicts_total',
      help: 'Verification verdicts issued by this node',
      labelNames: ['outcome'],
      registers,
    })
    this.servedChecks = new Counter({
      name: 'tessera_served_checks_total',
      help: 'Checks done for other creators: verify (delegated to us) or arbitrate (an accusation judged)',
      labelNames: ['role'],
      registers,
    })
    this.tokensPaid = new Counter({ name: 'tessera_tokens_paid_total', help: 'Token units paid out', registers })
    this.capacityRecords = new Gauge({
      name: 'tessera_capacity_records',
      help: 'Live capacity records in the market view',
      registers,
    })
    this.taskSeconds = new Histogram({
      name: 'tessera_task_duration_seconds',
      help: 'Time to execute a task on this worker',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    })
    this.blobsDeleted = new Counter({
      name: 'tessera_blobs_deleted_total',
      help: 'Blobs deleted from disk once nothing held them: released (a task paid for) or expired (never paid for)',
      labelNames: ['reason'],
      registers,
    })
  }

  /** Prometheus text exposition of every metric in the registry, libp2p's included. */
  async text(): Promise<string> {
    return this.registry.metrics()
  }
}

/**
 * libp2p's metrics (and Node.js's default ones) in `registry`, for `createNode({ metrics })`.
 *
 * `@libp2p/prometheus-metrics` clears prom-client's global default registry when libp2p creates it, which would take
 * away the metrics of an application embedding the node. Its `preserveExistingMetrics` option would spare them, but
 * it also keeps the package's process-wide table of metric objects: a second node in the process (or this one made
 * again) would then reuse the first one's objects, registered in the first registry, and show no libp2p metric in its
 * own. So it clears as it always did, and what the default registry held is put back.
 */
export function libp2pMetrics(registry: Registry): Libp2pMetricsFactory {
  const create = prometheusMetrics({ registry, collectDefaultMetrics: true })
  return (components) => {
    const kept = register.getMetricsAsArray().map(({ name }) => [name, register.getSingleMetric(name)!] as const)
    try {
      return create(components)
    } finally {
      for (const [name, metric] of kept)
        if (register.getSingleMetric(name) === undefined) register.registerMetric(metric)
    }
  }
}

/** What `createNode({ metrics })` takes: libp2p calls it with its components. */
export type Libp2pMetricsFactory = ReturnType<typeof prometheusMetrics>
