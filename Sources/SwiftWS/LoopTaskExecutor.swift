import SwiftWSTransport

/// Runs task jobs on an event loop's thread, as a task executor preference
/// (`AsyncSocketOptions.runsHandlersOnLoop`): the connection handler's task and the loop then
/// never hand work to each other across threads — each message otherwise costs two thread
/// wake-ups each way (the loop resumes the task on the cooperative pool, the task posts its send
/// back to the loop).
final class LoopTaskExecutor: TaskExecutor {
    let loop: EventLoop

    init(loop: EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        // On the loop thread (a continuation the loop resumed: a message arrived, a send was
        // done), the job runs at the end of this iteration, its sends corked into the
        // iteration's one flush, with no wake-up of the loop.
        if loop.isInLoopThread {
            return loop.deferCallback { job.runSynchronously(on: executor) }
        }
        // A stopped loop runs nothing more; the job must still run (its task would leak), so it
        // runs on the global executor instead.
        if !loop.execute({ job.runSynchronously(on: executor) }) {
            job.runSynchronously(on: globalConcurrentExecutor.asUnownedTaskExecutor())
        }
    }
}
