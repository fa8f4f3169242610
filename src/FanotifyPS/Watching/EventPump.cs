using System;
using System.Threading;

namespace FanotifyPS.Watching;

/// <summary>
/// A watch's pump: a thread of its own that moves what the responders wrote to the hand-off queue into the job's
/// Output, and tells the watch how far it got.
///
/// Implementation notes:
/// - PSDataCollection raises DataAdded on the adding thread, so Receive-Job -Wait's handlers run here and not on
///   a responder. No FanotifyPS reader code runs here: Get-FanotifyEvent waits on DataAvailable, which the pump sets.
/// - The pump blocks in the kernel between bursts: no thread-pool work item, whose workers spin (sched_yield) on the
///   CPUs that the processes waiting for verdicts need.
/// - Receive-Job removes from Output without telling anyone, so a full buffer is re-counted every
///   <see cref="RecountMilliseconds"/> (each pass re-counts Output).
/// - It ends once the queue is closed (every responder has ended) and empty: then every event is in Output.
/// - It raises <see cref="FanotifyWatch.EventArrived"/> for each event that entered Output, whoever moved it (a
///   reader's take moves events too, and wakes the pump for them): subscribers run here, never on a responder
///   or a reader. Register-ObjectEvent's subscriber only queues the event for its runspace, so a slow -Action
///   does not slow the pump; a slow .NET subscriber does, and the buffer fills while it runs.
/// </summary>
internal sealed class EventPump
{
    /// <summary>How often a full buffer is re-counted, to see room that Receive-Job made.</summary>
    private const int RecountMilliseconds = 20;

    /// <summary>
    /// The pump sleeps this long after a wake-up, so that a burst costs one wake-up of the pump and of its readers,
    /// not one per event (bench/README.md has the A/B against 1 ms); readers see an event at most about 5 ms later.
    /// </summary>
    private const int CoalesceMilliseconds = 5;

    private readonly HandOffQueue _queue;
    private readonly JobOutput _output;
    private readonly Watcher _watcher;
    private Thread? _thread;

    public EventPump(HandOffQueue queue, JobOutput output, Watcher watcher)
    {
        _queue = queue;
        _output = output;
        _watcher = watcher;
    }

    public void Start(string name)
    {
        _thread = new Thread(Run, maxStackSize: 256 * 1024) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Waits for the pump to end (false at the timeout). The pump itself does not wait for itself.</summary>
    public bool Join(TimeSpan timeout) =>
        _thread is null || _thread == Thread.CurrentThread || _thread.Join(timeout);

    private void Run()
    {
        while (true)
        {
            _output.Move();
            _watcher.OnPumped();
            _output.AnnounceNewEvents();
            _watcher.RaiseEventArrived();   // after the readers are told: a slow subscriber does not delay them
            if (_queue.IsClosed && _queue.IsEmpty)
            {
                break;
            }

            // Full by the last count: wake up now and then anyway, and the Move above re-counts Output, or room
            // made by Receive-Job would go unseen.
            if (_queue.WaitForWrites(_queue.IsFull ? RecountMilliseconds : Timeout.Infinite))
            {
                Thread.Sleep(CoalesceMilliseconds);
            }
        }

        _watcher.RaiseEventArrived();   // what a reader moved since the last pass: before the job ends
        _watcher.OnPumpEnded();
    }
}
