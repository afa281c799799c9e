import SwiftWSTransport

/// Runs task jobs on an event loop's thread, as a task executor preference
/// (`AsyncSocketOptions.runsHandlersOnLoop`): the connection handler's task and the loop then
/// never hand work to each other across threads — each message otherwise costs two thread
/// wake-ups each way (the loop resumes the task on the cooperative pool, the task posts its send
/// back to the loop).
///
/// `@unchecked Sendable`: `ready`, `running` and `runScheduled` are touched only on the loop
/// thread (the `isInLoopThread` branch of `enqueue` and the deferred `runReady`); `loop` is
/// itself Sendable.
final class LoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    let loop: EventLoop
    /// Jobs resumed on the loop thread, run together at the end of the iteration: one deferred
    /// callback per iteration rather than a closure allocated per job.
    private var ready: [UnownedJob] = []
    /// The batch being run (kept to reuse its storage).
    private var running: [UnownedJob] = []
    private var runScheduled = false

    init(loop: EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // On the loop thread (a continuation the loop resumed: a message arrived, a send was
        // done), the job runs at the end of this iteration, its sends corked into the
        // iteration's one flush, with no wake-up of the loop.
        if loop.isInLoopThread {
            ready.append(job)
            if !runScheduled {
                runScheduled = true
                loop.deferCallback { [self] in runReady() }
            }
            return
        }
        let executor = asUnownedTaskExecutor()
        // A stopped loop runs nothing more; the job must still run (its task would leak), so it
        // runs on the global executor instead.
        if !loop.execute({ job.runSynchronously(on: executor) }) {
            job.runSynchronously(on: globalConcurrentExecutor.asUnownedTaskExecutor())
        }
    }

    /// Loop thread: runs the ready jobs, and those they make ready, until none is left.
    private func runReady() {
        let executor = asUnownedTaskExecutor()
        while !ready.isEmpty {
            swap(&ready, &running)
            for job in running { job.runSynchronously(on: executor) }
            running.removeAll(keepingCapacity: true)
        }
        runScheduled = false
    }
}
