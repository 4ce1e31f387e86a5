/**
 * A first-in first-out queue with O(1) shift, for node-zookeeper-client's queue of requests
 * awaiting their reply. The client uses a plain array and shift() per reply: once more than about
 * 16,000 requests are in flight the array no longer fits V8's fast left-trim and every shift
 * moves the rest of it (quadratic; 10,000 locks acquired at once put 20,000 requests in flight).
 * The client only calls push() and shift().
 */
export class FifoQueue<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): number {
    this.items.push(item);
    return this.length;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head += 1;
    // Drop the consumed front once it is most of the array (amortised O(1)).
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
