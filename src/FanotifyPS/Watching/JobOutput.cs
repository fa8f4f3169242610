using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;

namespace FanotifyPS.Watching;

/// <summary>
/// The readers' side of a watch: its job's Output collection, which Receive-Job reads and Get-FanotifyEvent reads
/// too, the move of events from the hand-off queue into it, and the handle readers wait on.
///
/// Implementation notes:
/// - Lock order: Output's SyncRoot only; nobody waits while holding it.
/// - Each event gets a sequence number as it enters Output (under the lock): numbers grow along Output, whoever
///   removes what, so a reader that keeps what it reads (-Keep) finds where it left off by a binary search.
/// - <see cref="DataAvailable"/> is set by the pump (see <see cref="GenerationSignal"/>): after a pass that finds
///   events that no pulse announced yet, and for good once the watch has ended. No reader code runs on the pump.
/// </summary>
internal sealed class JobOutput
{
    /// <summary>Every watch's pulses too: for a reader of more watches than one wait can take handles.</summary>
    private static readonly GenerationSignal s_anyWatch = new();

    private readonly HandOffQueue _queue;
    private readonly PSDataCollection<PSObject> _output;
    private readonly object _outputLock;
    private readonly GenerationSignal _dataAvailable = new();
    private long _sequence;   // written under the Output lock; the pump reads it whole (64-bit) without it
    private long _announcedUpTo;   // the pump's

    // Events that entered Output since the pump last raised EventArrived: under the Output lock, and null while
    // the event has no subscriber (then a move does nothing more). The pump swaps it with its own list.
    private List<FanotifyEvent>? _arrived;
    private List<FanotifyEvent> _raising = [];   // the pump's

    /// <summary>The watch's shared process descriptions (two groups), completing each event as it enters Output.</summary>
    public ProcessDescriptions? Descriptions { get; set; }

    public JobOutput(PSDataCollection<PSObject> output, HandOffQueue queue)
    {
        _output = output;
        _outputLock = ((ICollection)output).SyncRoot;
        _queue = queue;
    }

    /// <summary>Events waiting for a reader: in the queue and in Output.</summary>
    public int Count => _queue.Count + _output.Count;

    /// <summary>Set when events have arrived since it was read, or the watch has ended. Read it before taking.</summary>
    public WaitHandle DataAvailable => _dataAvailable.Current;

    /// <summary>As <see cref="DataAvailable"/>, for any watch of the process.</summary>
    public static WaitHandle AnyDataAvailable => s_anyWatch.Current;

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

            _queue.SetOutputCount(_output.Count);
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

    /// <summary>On the pump: moves what the queue holds into Output (which re-counts it).</summary>
    public void Move()
    {
        lock (_outputLock)
        {
            MoveLocked(byPump: true);
        }
    }

    /// <summary>
    /// EventArrived got its first subscriber (true) or lost its last (false): from now on the events that enter
    /// Output are kept for the pump to raise it for, or no longer (those not raised yet are not).
    /// </summary>
    public void CollectArrivals(bool collect)
    {
        lock (_outputLock)
        {
            _arrived = collect ? _arrived ?? [] : null;
        }
    }

    /// <summary>
    /// On the pump: the events that entered Output since the last call, in their order, to raise EventArrived for
    /// (empty without subscribers). The list is the pump's until its next call.
    /// </summary>
    public List<FanotifyEvent> TakeArrivals()
    {
        _raising.Clear();
        if (Volatile.Read(ref _arrived) is null)
        {
            return _raising;   // no subscriber: not even the lock
        }

        lock (_outputLock)
        {
            if (_arrived is { Count: > 0 })
            {
                (_arrived, _raising) = (_raising, _arrived);
            }
        }

        return _raising;
    }

    /// <summary>On the pump, after a move: pulses <see cref="DataAvailable"/> if events entered Output since the last pulse.</summary>
    public void AnnounceNewEvents()
    {
        // Readers' takes move events too: they count, and a reader that left some (a filter) wakes the others.
        long last = Volatile.Read(ref _sequence);
        if (last != _announcedUpTo)
        {
            _announcedUpTo = last;
            _dataAvailable.Pulse();
            s_anyWatch.Pulse();
        }
    }

    /// <summary>On the pump, as its last act: the watch has ended, and a wait on DataAvailable returns at once from now on.</summary>
    public void AnnounceEnd()
    {
        _dataAvailable.PulseForever();
        s_anyWatch.Pulse();
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

    /// <summary>
    /// Moves everything in the queue to Output; the caller holds the Output lock. A reader that moves events that
    /// EventArrived is to be raised for wakes the pump, which raises it (a reader never runs a subscriber).
    /// </summary>
    private void MoveLocked(bool byPump = false)
    {
        int moved = 0;
        List<FanotifyEvent>? arrived = _arrived;
        ProcessDescriptions? descriptions = Descriptions;
        while (_queue.TryDequeue(out FanotifyEvent item))
        {
            item.Sequence = ++_sequence;
            descriptions?.Complete(item);
            _output.Add(PSObject.AsPSObject(item));
            arrived?.Add(item);
            moved++;
        }

        _queue.MovedToOutput(moved, _output.Count);
        if (moved != 0 && arrived is not null && !byPump)
        {
            _queue.WakePump();
        }
    }
}
