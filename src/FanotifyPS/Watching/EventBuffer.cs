using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;

namespace FanotifyPS.Watching;

/// <summary>
/// The hand-off between a watch's responder threads and its readers, who all share one buffer: the job's Output
/// collection, which Receive-Job reads and Get-FanotifyEvent reads too.
///
/// Implementation notes:
/// - A responder only calls <see cref="TryWrite"/>: an interlocked count against the capacity, an enqueue on a
///   lock-free queue, and a wake-up of the pump only when the pump sleeps. It never takes the Output lock
///   (readers hold it) and never runs a reader's code.
/// - A pump thread of its own moves what the queue holds into Output; PSDataCollection raises DataAdded on the
///   adding thread, so Receive-Job -Wait's handlers run there and not on a responder. The pump blocks in the
///   kernel between bursts: no thread-pool work item, whose workers spin (sched_yield) on the CPUs that the
///   processes waiting for verdicts need.
/// - The capacity bounds events in the queue plus events in Output. Output.Count is read by the pump (which adds)
///   and by Get-FanotifyEvent (which removes) and published in <see cref="_outputCount"/>; Receive-Job removes
///   without telling anyone, so a full buffer is re-counted every <see cref="RecountMilliseconds"/>.
/// - Lock order: Output's SyncRoot only; nobody waits while holding it.
/// - Each event gets a sequence number as it enters Output (under the lock): numbers grow along Output, whoever
///   removes what, so a reader that keeps what it reads (-Keep) finds where it left off by a binary search.
/// </summary>
internal sealed class EventBuffer : IDisposable
{
    public const int DefaultCapacity = 65536;

    /// <summary>How often a full buffer is re-counted, to see room that Receive-Job made.</summary>
    private const int RecountMilliseconds = 20;

    /// <summary>
    /// The pump sleeps this long after a wake-up, so that a burst costs one wake-up of the pump and of its readers,
    /// not one per event. 5 ms against 1 ms: 6-11% more permission opens/s in A/B on two CPUs, the pump's and the
    /// reader's wake-ups a fifth; readers see an event at most about 5 ms later.
    /// </summary>
    private const int CoalesceMilliseconds = 5;

    private readonly ConcurrentQueue<FanotifyEvent> _queue = new();
    private readonly AutoResetEvent _wakePump = new(false);
    private readonly PSDataCollection<PSObject> _output;
    private readonly object _outputLock;
    private Thread? _pump;
    private Action? _finished;
    private volatile bool _completed;
    private volatile bool _drained;
    private int _pumpAsleep;
    private int _inQueue;
    private int _outputCount;
    private long _sequence;   // under the Output lock

    public EventBuffer(int capacity, PSDataCollection<PSObject> output)
    {
        Capacity = capacity;
        _output = output;
        _outputLock = ((ICollection)output).SyncRoot;
    }

    public int Capacity { get; }

    /// <summary>Events waiting for a reader.</summary>
    public int Count => Volatile.Read(ref _inQueue) + _output.Count;

    /// <summary>The watch has ended and its last events are in Output.</summary>
    public bool IsFinished => _drained;

    /// <summary>On the pump, after a move that moved something, and once at the end; readers wake on it.</summary>
    public event Action? Moved;

    /// <summary>On the pump, after every move (which re-counts Output).</summary>
    public Action? Pumped { get; set; }

    /// <summary>On a responder: false when the buffer is full (the caller counts a drop). Never waits.</summary>
    public bool TryWrite(FanotifyEvent item)
    {
        if (Interlocked.Increment(ref _inQueue) + Volatile.Read(ref _outputCount) > Capacity)
        {
            Interlocked.Decrement(ref _inQueue);
            return false;
        }

        _queue.Enqueue(item);   // a full fence: the read below cannot move before it
        if (Volatile.Read(ref _pumpAsleep) != 0 && Interlocked.Exchange(ref _pumpAsleep, 0) != 0)
        {
            _wakePump.Set();
        }

        return true;
    }

    /// <summary>Before the pump starts: drops what the warm-up wrote.</summary>
    public void DiscardPending()
    {
        while (_queue.TryDequeue(out _))
        {
            Interlocked.Decrement(ref _inQueue);
        }
    }

    /// <summary>Starts the pump; <paramref name="finished"/> runs on it once the last event is in Output.</summary>
    public void StartPump(string name, Action finished)
    {
        _finished = finished;
        _pump = new Thread(Pump, maxStackSize: 256 * 1024) { IsBackground = true, Name = name };
        _pump.Start();
    }

    /// <summary>No more events will come; what is buffered stays readable.</summary>
    public void Complete()
    {
        _completed = true;
        _wakePump.Set();
    }

    /// <summary>Waits for the pump to end (false at the timeout). The pump itself does not wait for itself.</summary>
    public bool WaitForPump(TimeSpan timeout) =>
        _pump is null || _pump == Thread.CurrentThread || _pump.Join(timeout);

    /// <summary>
    /// Takes up to <paramref name="max"/> events (all when 0) from the front of Output, in one O(n) pass, after
    /// moving what the pump has not moved yet: a reader gets every event counted in Count. They stay wrapped
    /// as they were wrapped for Output, so that writing them to the pipeline does not wrap them again. With a
    /// <paramref name="filter"/>, only the events it passes are taken (up to max); the others stay, in order,
    /// for the next reader. The filter runs under the Output lock: it must not wait.
    /// </summary>
    public PSObject[] Take(int max, Func<FanotifyEvent, bool>? filter = null)
    {
        PSObject[] items;
        lock (_outputLock)
        {
            MoveLocked();
            items = new PSObject[_output.Count];
            ((ICollection)_output).CopyTo(items, 0);
            if (filter is not null)
            {
                items = TakeMatchingLocked(items, max, filter);
            }
            else
            {
                _output.Clear();   // ReadAll would remove one item at a time from the front of a list: O(n^2)
                if (max > 0 && max < items.Length)
                {
                    for (int i = max; i < items.Length; i++)
                    {
                        _output.Add(items[i]);   // nothing else can add while the lock is held: the order stays
                    }

                    Array.Resize(ref items, max);
                }
            }

            Volatile.Write(ref _outputCount, _output.Count);
        }

        return items;
    }

    /// <summary>
    /// Returns, without taking them, up to <paramref name="max"/> events (all when 0) that come after
    /// <paramref name="after"/> and pass <paramref name="filter"/>; <paramref name="after"/> moves past every event
    /// looked at, so that the same reader never gets one twice. O(log n) to find the place, then one per event.
    /// </summary>
    public PSObject[] Peek(int max, Func<FanotifyEvent, bool>? filter, ref long after)
    {
        var items = new List<PSObject>();
        lock (_outputLock)
        {
            MoveLocked();
            int count = _output.Count;
            int low = 0, high = count;
            while (low < high)
            {
                int middle = (low + high) >>> 1;
                if (SequenceOf(_output[middle]) <= after)
                {
                    low = middle + 1;
                }
                else
                {
                    high = middle;
                }
            }

            for (int i = low; i < count && (max <= 0 || items.Count < max); i++)
            {
                PSObject item = _output[i];
                after = SequenceOf(item);
                if (filter is null || filter((FanotifyEvent)item.BaseObject))
                {
                    items.Add(item);
                }
            }
        }

        return items.ToArray();
    }

    /// <summary>
    /// Takes what the filter passes from <paramref name="all"/> (Output's contents), up to max. Only the part of
    /// Output from the first taken event on is rebuilt: removals from the end, then the kept events added back in
    /// order. A read that takes nothing changes nothing. The caller holds the Output lock.
    /// </summary>
    private PSObject[] TakeMatchingLocked(PSObject[] all, int max, Func<FanotifyEvent, bool> filter)
    {
        var taken = new List<PSObject>();
        int first = -1;
        var keep = new bool[all.Length];
        for (int i = 0; i < all.Length; i++)
        {
            if ((max <= 0 || taken.Count < max) && filter((FanotifyEvent)all[i].BaseObject))
            {
                taken.Add(all[i]);
                if (first < 0)
                {
                    first = i;
                }
            }
            else
            {
                keep[i] = true;
            }
        }

        if (first >= 0)
        {
            for (int i = all.Length - 1; i >= first; i--)
            {
                _output.RemoveAt(i);   // from the end of a list: O(1) each
            }

            for (int i = first; i < all.Length; i++)
            {
                if (keep[i])
                {
                    _output.Add(all[i]);
                }
            }
        }

        return taken.ToArray();
    }

    private static long SequenceOf(PSObject item) => ((FanotifyEvent)item.BaseObject).Sequence;

    public void Dispose() => _wakePump.Dispose();

    private void Pump()
    {
        while (true)
        {
            Move();
            if (_completed && _queue.IsEmpty)
            {
                break;
            }

            // Asleep first, then look again: a responder that enqueued after the look sees the flag and wakes us.
            Interlocked.Exchange(ref _pumpAsleep, 1);
            if (!_queue.IsEmpty || _completed)
            {
                Volatile.Write(ref _pumpAsleep, 0);
                continue;
            }

            // Full by the last count: wake up now and then anyway, and the Move above re-counts Output, or room
            // made by Receive-Job would go unseen.
            bool woken = _wakePump.WaitOne(IsFull() ? RecountMilliseconds : Timeout.Infinite);
            Volatile.Write(ref _pumpAsleep, 0);
            if (woken)
            {
                Thread.Sleep(CoalesceMilliseconds);
            }
        }

        // The last losses are published by the watch's finish, after the responders' counters are final.
        _drained = true;
        _finished?.Invoke();
        Moved?.Invoke();
    }

    private bool IsFull() => Volatile.Read(ref _inQueue) + Volatile.Read(ref _outputCount) >= Capacity;

    private void Move()
    {
        int moved;
        lock (_outputLock)
        {
            moved = MoveLocked();
        }

        if (moved > 0)
        {
            Moved?.Invoke();
        }

        Pumped?.Invoke();
    }

    /// <summary>Moves everything in the queue to Output; the caller holds the Output lock.</summary>
    private int MoveLocked()
    {
        int moved = 0;
        while (_queue.TryDequeue(out FanotifyEvent? item))
        {
            item.Sequence = ++_sequence;
            _output.Add(PSObject.AsPSObject(item));
            moved++;
        }

        Interlocked.Add(ref _inQueue, -moved);
        Volatile.Write(ref _outputCount, _output.Count);
        return moved;
    }
}
