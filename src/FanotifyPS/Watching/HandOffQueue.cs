using System;
using System.Collections.Concurrent;
using System.Threading;

namespace FanotifyPS.Watching;

/// <summary>
/// The hand-off from a watch's responder threads to its pump: a lock-free queue, bounded together with the job's
/// Output by the watch's capacity.
///
/// Implementation notes:
/// - A responder only calls <see cref="TryWrite"/> (and, in its warm-up, <see cref="DiscardPending"/>): an
///   interlocked count against the capacity, an enqueue on a lock-free queue, and a wake-up of the pump only when
///   the pump sleeps. It never waits, never takes a lock (readers hold the Output lock) and never runs a reader's code.
/// - The capacity bounds events in this queue plus events in Output. Output.Count is published here by whoever
///   changes it (the pump, which adds, and Get-FanotifyEvent, which removes);
///   Receive-Job removes without telling anyone, so the pump re-counts a full buffer now and then.
/// - Closed once every responder has ended: nothing more will be written, and the pump ends when it has moved
///   the rest.
/// </summary>
internal sealed class HandOffQueue : IDisposable
{
    private readonly ConcurrentQueue<FanotifyEvent> _queue = new();
    private readonly AutoResetEvent _wakePump = new(false);
    private volatile bool _closed;
    private int _pumpAsleep;
    private int _inQueue;
    private int _outputCount;

    public HandOffQueue(int capacity)
    {
        Capacity = capacity;

        // The responder's wake-up path runs once here, before any mark: its warm-up writes find no pump asleep.
        _wakePump.Set();
        _wakePump.Reset();
    }

    /// <summary>Events in the queue and in Output together: more are refused (and counted as drops).</summary>
    public int Capacity { get; }

    /// <summary>Events written and not yet moved to Output.</summary>
    public int Count => Volatile.Read(ref _inQueue);

    public bool IsEmpty => _queue.IsEmpty;

    /// <summary>Every responder has ended: no event will be written any more.</summary>
    public bool IsClosed => _closed;

    /// <summary>Full by the last count of Output.</summary>
    public bool IsFull => Volatile.Read(ref _inQueue) + Volatile.Read(ref _outputCount) >= Capacity;

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

    /// <summary>No more events will come; what is queued still goes to Output. Wakes the pump.</summary>
    public void Close()
    {
        _closed = true;
        _wakePump.Set();
    }

    /// <summary>Wakes the pump (or keeps its next wait from sleeping): a reader moved events it has work for.</summary>
    public void WakePump() => _wakePump.Set();

    /// <summary>For the one thread that moves events (under the Output lock).</summary>
    public bool TryDequeue(out FanotifyEvent item) => _queue.TryDequeue(out item!);

    /// <summary>After a move: <paramref name="moved"/> events left the queue, and Output now holds <paramref name="outputCount"/>.</summary>
    public void MovedToOutput(int moved, int outputCount)
    {
        Interlocked.Add(ref _inQueue, -moved);
        SetOutputCount(outputCount);
    }

    /// <summary>Output's count changed (a reader took events): the room it made is free.</summary>
    public void SetOutputCount(int outputCount) => Volatile.Write(ref _outputCount, outputCount);

    /// <summary>
    /// On the pump: sleeps until a responder writes, the queue is closed, or <paramref name="millisecondsTimeout"/>
    /// passes. True if it was woken (then a burst may be starting), false if there was no need to sleep or it timed out.
    /// </summary>
    public bool WaitForWrites(int millisecondsTimeout)
    {
        // Asleep first, then look again: a responder that enqueued after the look sees the flag and wakes us.
        Interlocked.Exchange(ref _pumpAsleep, 1);
        if (!_queue.IsEmpty || _closed)
        {
            Volatile.Write(ref _pumpAsleep, 0);
            return false;
        }

        bool woken = _wakePump.WaitOne(millisecondsTimeout);
        Volatile.Write(ref _pumpAsleep, 0);
        return woken;
    }

    public void Dispose() => _wakePump.Dispose();
}
