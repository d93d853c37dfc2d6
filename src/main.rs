fn main() {
    shipwatch::start();
}
